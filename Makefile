# Thin wrapper over CMake. `make deps` installs the Debian packages of
# DESIGN §1 when missing; every other target depends on what it needs.
# (lua-language-server, for the editor types, is neither a Debian package
# nor on the npm registry: docs/authoring.md "Editor setup".) postgresql is
# for the tests and `make bench` only: they start servers of their own
# (tests/integration/lib_pg.sh); summit itself needs libpq, never a server.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= 2
SUDO       := $(if $(filter 0,$(shell id -u)),,sudo)
DEBS := gcc make cmake pkg-config git libluajit-5.1-dev luajit libuv1-dev \
        libcurl4-openssl-dev libcjson-dev libsqlite3-dev sqlite3 libyaml-dev \
        libssl-dev libhttp-parser-dev libcriterion-dev prometheus python3 curl \
        nginx-light clang libclang-rt-14-dev lua-check postgresql libpq-dev \
        nettle-dev

.PHONY: all build asan deps test demo bench clean

all: build

deps:
	@missing=$$(for p in $(DEBS); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSUMMIT_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)

# Every test (unit, Lua, integration) runs under ASan + UBSan; the release
# build is compiled too, so both configurations stay warning-free.
test: build asan
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j$(JOBS)

demo: build
	@bash examples/demo.sh $(BUILD)/summit

bench: build
	@bash bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
