# Thin wrapper over CMake (as Neovim's): every rule here is one a new user types.
#   make demo   build everything, run the sync-read scenario, show what it measured
#   make test   build, then run the whole suite (format check, sanitizer unit tests, all ctest tests)
#   make install [PREFIX=/usr/local] [DESTDIR=...]   the command, agent, man pages, completion
#   make package   a Debian package (build/loopscope_VERSION_amd64.deb)
# Both first install missing Debian packages (scripts/deps.sh). CI=true turns warnings into errors.

BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
PREFIX     ?= /usr/local
ifeq ($(CI),true)
WERROR ?= ON
else
WERROR ?= OFF
endif
MAKEFLAGS += --no-print-directory
CMAKE_ARGS = -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLSC_WERROR=$(WERROR)

.PHONY: all deps build asan test demo install package format format-check clean

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

asan: deps
	@cmake -S . -B $(ASAN_BUILD) $(CMAKE_ARGS) -DLSC_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)

# Unit and in-process runtime tests once more under ASan+UBSan, then everything; ctest's summary is the last line.
test: format-check build asan
	@cd $(ASAN_BUILD) && ctest -L 'unit|runtime' --output-on-failure -j$(JOBS)
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

demo: build
	@scripts/demo.sh $(BUILD)

install: build
	@DESTDIR=$(DESTDIR) cmake --install $(BUILD) --prefix $(PREFIX)

package: build
	@cd $(BUILD) && cpack -G DEB >/dev/null && ls "$$PWD"/loopscope_*.deb

format:
	@scripts/format.sh fix

format-check: deps
	@scripts/format.sh check

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
