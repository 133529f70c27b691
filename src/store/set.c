/* Placeholder until the set type lands. */
#include <stdlib.h>

#include "store/object.h"

void set_obj_free(void *obj, enum obj_enc enc) { (void)obj; (void)enc; abort(); }
void set_obj_dump(const void *obj, enum obj_enc enc, struct buf *out)
{
    (void)obj; (void)enc; (void)out; abort();
}
void *set_obj_restore(const char *p, size_t len, enum obj_enc *enc)
{
    (void)p; (void)len; (void)enc; return NULL;
}
size_t set_obj_len(const void *obj, enum obj_enc enc) { (void)obj; (void)enc; return 0; }
void set_obj_each(const void *obj, enum obj_enc enc, obj_elem_fn fn, void *arg)
{
    (void)obj; (void)enc; (void)fn; (void)arg;
}
