# chapter.mk - the whole Makefile of a chapter, after it names its programs:
#
#   PROGRAMS := server client         # each built from PROGRAM.cpp and its
#                                     # parts PROGRAM-*.cpp (server-loop.cpp)
#   SHARED_SOURCES := protocol.cpp    # optional: linked into every program
#   CHAPTER_LDLIBS := -lsystemd       # optional
#   include ../mk/chapter.mk
#
# and, for `make trace` (tools/trace: one exchange under strace, labelled by
# role), what the exchange is and which calls it shows:
#
#   TRACE_CALLS := msgget,msgsnd,msgrcv,msgctl
#   TRACE_SERVER := ./server --name trace   # optional: started first
#   TRACE_CLIENT := ./client --name trace hello
#   TRACE_OPTIONS := --signals               # optional: more tools/trace options
#   TRACE_WRAP := dbus-run-session --       # optional: a command tools/trace runs under
#
# Targets: all (default), test, valgrind, demo, trace, clean.

include $(dir $(lastword $(MAKEFILE_LIST)))lab.mk

CHAPTER := $(notdir $(CURDIR))
OBJ_DIR := .build/$(LAB_FLAVOUR)
# The default build puts programs next to their sources; variants go apart.
OUT_PREFIX := $(if $(VARIANT),$(LAB_ROOT)/build/$(VARIANT)/$(CHAPTER)/)
BINARIES := $(addprefix $(OUT_PREFIX),$(PROGRAMS))
SHARED_OBJECTS := $(patsubst %.cpp,$(OBJ_DIR)/%.o,$(SHARED_SOURCES))

# Programs remember which flavour built them, so switching CXX relinks them.
FLAVOUR_STAMP := $(OBJ_DIR)/../last-flavour$(if $(VARIANT),-$(VARIANT))
$(shell mkdir -p $(OBJ_DIR) && { [ "$$(cat $(FLAVOUR_STAMP) 2>/dev/null)" = "$(LAB_FLAVOUR)" ] || echo "$(LAB_FLAVOUR)" > $(FLAVOUR_STAMP); })

.PHONY: all test valgrind demo trace clean
.DEFAULT_GOAL := all

all: $(BINARIES)

# A file's name says which program links it: PROGRAM.cpp and PROGRAM-*.cpp
# go into PROGRAM alone (so "server-*" is not "posix-server-*": the wildcard
# is anchored at the start of the name); SHARED_SOURCES into every program.
program_objects = $(patsubst %.cpp,$(OBJ_DIR)/%.o,$(1).cpp $(wildcard $(1)-*.cpp))

# Each program's list of parts is kept in OBJ_DIR/PROGRAM.parts, rewritten
# only when it changes: adding or removing a part relinks the program.
$(foreach p,$(PROGRAMS),$(shell [ "$$(cat $(OBJ_DIR)/$(p).parts 2>/dev/null)" = "$(call program_objects,$(p))" ] || echo "$(call program_objects,$(p))" > $(OBJ_DIR)/$(p).parts))

.SECONDEXPANSION:
$(BINARIES): $(OUT_PREFIX)%: $$(call program_objects,$$*) $(OBJ_DIR)/$$*.parts $(SHARED_OBJECTS) $(LAB_COMMON_LIB) $(FLAVOUR_STAMP)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $(CHAPTER)/$*")
	$(Q)$(CXX) $(LAB_LDFLAGS) $(LDFLAGS) -o $@ $(call program_objects,$*) $(SHARED_OBJECTS) $(LAB_COMMON_LIB) $(CHAPTER_LDLIBS) $(LAB_LDLIBS) $(LDLIBS)

$(OBJ_DIR)/%.o: %.cpp
	$(call lab_need,build)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CXX     $(CHAPTER)/$<")
	$(Q)$(CXX) $(LAB_CPPFLAGS) $(CPPFLAGS) $(LAB_CXXFLAGS) $(CXXFLAGS) -c -o $@ $<

# Built here when the chapter is made on its own (make -C 02-pipe); the
# top-level Makefile builds it once first and says so, so that two chapters
# built in parallel never race to build it.
ifeq ($(LAB_COMMON_BUILT),)
$(LAB_COMMON_LIB): $(wildcard $(LAB_ROOT)/common/*.cpp $(LAB_ROOT)/common/*.hpp)
	$(Q)$(MAKE) $(if $(Q),-s) --no-print-directory -C $(LAB_ROOT)/common
endif

test: all
	$(call lab_need,test)
	$(LAB_ROOT)/tests/run $(LAB_ROOT)/tests/$(CHAPTER).bats

valgrind: all
	$(call lab_need,test valgrind)
	$(LAB_ROOT)/tests/run --valgrind $(LAB_ROOT)/tests/$(CHAPTER).bats

demo: all
	@./demo.sh

# TRACE_BIN=DIR traces the programs in DIR (a variant's, a submission's)
# without building here: the README's trace is checked that way.
trace: $(if $(TRACE_BIN),,all)
	$(call lab_need,trace)
	$(if $(TRACE_CLIENT),,$(error $(CHAPTER) has no trace yet: its Makefile sets no TRACE_CLIENT))
	@cd $(or $(TRACE_BIN),.) && $(TRACE_WRAP) $(LAB_ROOT)/tools/trace --calls '$(TRACE_CALLS)' $(TRACE_OPTIONS) \
	    $(if $(TRACE_SERVER),--server '$(TRACE_SERVER)') -- $(TRACE_CLIENT)

clean:
	rm -rf .build $(PROGRAMS)

-include $(wildcard $(OBJ_DIR)/*.d)
