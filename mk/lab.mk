# lab.mk - the flags and helpers every Makefile of the lab shares.
# Included by common/Makefile, mk/chapter.mk and the top-level Makefile.
#
#   make V=1              show the commands
#   make CXX=clang++      build with clang (objects kept apart from g++'s)
#   make VARIANT=asan     AddressSanitizer + UBSan build into build/asan/
#   make VARIANT=tsan     ThreadSanitizer build into build/tsan/

LAB_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)

ifeq ($(V),1)
Q :=
else
Q := @
endif

# Use as the first line of a recipe: $(call lab_need,test). Run as root
# (a container, CI, Gradescope), it installs whatever the lab lacks and goes
# on; otherwise it stops make with one line naming every missing tool, its
# Debian package and `sudo make setup` (tools/need --make).
lab_need = $(eval lab_need_missing := $(shell CXX='$(CXX)' $(LAB_ROOT)/tools/need --make $(1)))$(if $(lab_need_missing),$(error $(lab_need_missing)))

# Required flags live in variables of our own: `make CXXFLAGS=...` on the
# command line replaces CXXFLAGS entirely, and these must survive it.
LAB_CXXFLAGS := -std=c++20 -Wall -Wextra -Wpedantic -Werror -g -MMD -MP
LAB_CPPFLAGS := -I$(LAB_ROOT)/common
LAB_LDLIBS := -pthread -lrt

ifneq (,$(findstring clang,$(shell $(CXX) --version 2>/dev/null)))
# valgrind 3.19 cannot read the DWARF 5 that clang 14 emits by default.
LAB_CXXFLAGS += -gdwarf-4
endif

ifeq ($(VARIANT),)
LAB_CXXFLAGS += -O2
else ifeq ($(VARIANT),asan)
LAB_CXXFLAGS += -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
LAB_LDFLAGS += -fsanitize=address,undefined
else ifeq ($(VARIANT),tsan)
LAB_CXXFLAGS += -O1 -fsanitize=thread
LAB_LDFLAGS += -fsanitize=thread
else
$(error unknown VARIANT '$(VARIANT)': use asan or tsan)
endif

# Objects of different compilers and variants never mix.
LAB_FLAVOUR := $(notdir $(firstword $(CXX)))$(if $(VARIANT),-$(VARIANT))
LAB_COMMON_LIB := $(LAB_ROOT)/common/.build/$(LAB_FLAVOUR)/libipclab.a
