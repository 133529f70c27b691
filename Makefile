# The README's commands. CMake does the building; this file only names the steps.
PY      := /usr/bin/python3
JOBS    := $(shell nproc)
PORT    ?= 6379
ARGS    ?=

.PHONY: all deps build build-asan build-tsan run test unit integration bench clean

all: build

deps:
	@scripts/setup.sh

build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build build -j$(JOBS)

# Tests run again under AddressSanitizer + UndefinedBehaviorSanitizer...
build-asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSANITIZE=address,undefined >/dev/null
	@cmake --build build-asan -j$(JOBS)

# ...and the concurrency tests under ThreadSanitizer.
build-tsan: deps
	@cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSANITIZE=thread >/dev/null
	@cmake --build build-tsan -j$(JOBS) --target test_ring test_runtime test_wait test_aof test_bio

run: build
	./build/corekv --bind 127.0.0.1 --port $(PORT) $(ARGS)

# The runtime's tests run on both reactors: auto (io_uring where the kernel allows it),
# then epoll.
RT_TESTS := test_runtime|test_wait
unit: build build-asan build-tsan
	cd build && ctest --output-on-failure
	cd build && COREKV_IO=epoll ctest --output-on-failure -R '$(RT_TESTS)'
	cd build-asan && ctest --output-on-failure
	cd build-asan && COREKV_IO=epoll ctest --output-on-failure -R '$(RT_TESTS)'
	cd build-tsan && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -R '$(RT_TESTS)|test_ring|test_aof$$|test_bio'
	cd build-tsan && COREKV_IO=epoll TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -R '$(RT_TESTS)'

# The whole integration suite, once per reactor (DESIGN.md section 11), on the release
# and the sanitizer build. io_uring's passes run where the kernel allows it (corekv
# --check-io says why not).
IO_MODES = epoll $(shell build/corekv --check-io >/dev/null 2>&1 && echo uring)
integration: build build-asan
	@build/corekv --check-io || true
	@for io in $(IO_MODES); do \
	    echo "== integration: release build, $$io reactor"; \
	    COREKV_IO=$$io COREKV_BIN=$(CURDIR)/build/corekv COREKV_EXAMPLE_BIN=$(CURDIR)/build/counterd \
	        $(PY) -m pytest -q tests/integration || exit 1; \
	    echo "== integration: ASan+UBSan build, $$io reactor"; \
	    COREKV_IO=$$io COREKV_BIN=$(CURDIR)/build-asan/corekv COREKV_EXAMPLE_BIN=$(CURDIR)/build-asan/counterd \
	        ASAN_OPTIONS=detect_leaks=1 $(PY) -m pytest -q tests/integration || exit 1; \
	done

test: unit integration

bench: build
	$(PY) bench/run.py --corekv-bin build/corekv $(ARGS)

clean:
	rm -rf build build-asan build-tsan
