# ipc-lab - top-level Makefile. `make help` lists the targets.
include mk/lab.mk

CHAPTERS := $(patsubst %/Makefile,%,$(sort $(wildcard [0-9][0-9]-*/Makefile)))

.PHONY: all common $(CHAPTERS) bench-build test valgrind valgrind-subset demo clean help setup check sanitize \
	grade grade-all autograder stress bench bench-plot handout handout-check handout-test classroom trace

# A handout (tools/handout) has no bench/: all builds it only where it is.
all: $(CHAPTERS) $(if $(wildcard bench/Makefile),bench-build)

common:
	$(call lab_need,build)
	$(Q)$(MAKE) $(if $(Q),-s) --no-print-directory -C common

# Each chapter after common/, so that chapters built in parallel (-j2)
# never both try to build the library.
$(CHAPTERS): common
	$(Q)$(MAKE) $(if $(Q),-s) --no-print-directory -C $@ LAB_COMMON_BUILT=1

# bench/ (ipc-bench) is built like a chapter. `make bench` measures every
# mechanism (under 2 minutes; the table on stdout, build/bench/bench.md and
# bench.csv); `make bench-plot` draws build/bench/latency.png and
# throughput.png from that CSV (running the measurements first if needed).
bench-build: common
	$(Q)$(MAKE) $(if $(Q),-s) --no-print-directory -C bench LAB_COMMON_BUILT=1

bench: bench-build
	$(Q)$(MAKE) --no-print-directory -C bench run

bench-plot: bench-build
	$(call lab_need,bench)
	$(Q)$(MAKE) --no-print-directory -C bench plot

test: all
	$(call lab_need,test)
	tests/run tests/*.bats

valgrind: all
	$(call lab_need,test valgrind)
	tests/run --valgrind tests/*.bats

# Under valgrind, only the tests tagged memcheck: the subset `make grade`
# runs under memcheck (a few minutes, against the whole suite's 40 or so).
valgrind-subset: all
	$(call lab_need,test valgrind)
	tests/run --valgrind --filter-tags memcheck tests/*.bats

demo: all
	$(call lab_need,demo)
	@for chapter in $(CHAPTERS); do \
	    if [ -x $$chapter/demo.sh ]; then \
	        echo "==== $$chapter"; \
	        (cd $$chapter && ./demo.sh) || exit 1; \
	        echo; \
	    fi; \
	done

# The same suite against an AddressSanitizer + UBSan build in build/asan/
# (a separate build: sanitizers and valgrind cannot share binaries). Any
# report aborts the program, which fails its test.
SANITIZER_ENV := ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=0 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
sanitize:
	$(call lab_need,test)
	$(Q)$(MAKE) $(if $(Q),-s) --no-print-directory VARIANT=asan all
	$(SANITIZER_ENV) LAB_BIN_ROOT=$(CURDIR)/build/asan tests/run tests/*.bats

# One exchange of every chapter under strace, the calls it teaches labelled
# by role (tools/trace; each chapter's TRACE_* settings in its Makefile).
trace: all
	$(call lab_need,trace)
	@for chapter in $(CHAPTERS); do \
	    echo "==== $$chapter"; \
	    $(MAKE) -s --no-print-directory -C $$chapter trace || exit 1; \
	    echo; \
	done

# Bounded soak runs of every server (tests/pairs): replies checked, server
# descriptors flat, nothing left behind. Prints a table.
stress: all
	$(call lab_need,test)
	tools/stress

# Grades this checkout (or GRADE_DIR=path/to/checkout): table on stdout,
# build/grade/junit.xml and build/grade/results.json (Gradescope).
grade: $(if $(GRADE_DIR),,all)
	$(call lab_need,test valgrind grade)
	tools/grade

# Grades every submission (a checkout or a .zip each) in GRADE_ALL_DIR,
# GRADE_JOBS at a time: build/grade-all/NAME/results.json and
# build/grade-all/summary.csv (tools/grade-all).
GRADE_JOBS ?= 2
grade-all:
	@test -n "$(GRADE_ALL_DIR)" || { echo "make grade-all: say where the submissions are: GRADE_ALL_DIR=dir" >&2; exit 2; }
	$(call lab_need,test valgrind grade)
	tools/grade-all -j "$(GRADE_JOBS)" "$(GRADE_ALL_DIR)"

# The student tree (tools/handout): build/handout/ (HANDOUT_OUT), fresh,
# with a stub in place of every TASK region; what it leaves out goes to
# build/handout-solutions/ (HANDOUT_SOLUTIONS; keep that private).
# CHAPTERS="03-fifo 06-msgqueue" hands out only those chapters.
# A handout has none of these tools: the targets say so.
MASTER_ONLY = @test -x tools/handout || { echo "make $@: only in the master tree, not in a handout" >&2; exit 1; }
HANDOUT_OUT ?= build/handout
HANDOUT_SOLUTIONS ?= build/handout-solutions

handout:
	$(MASTER_ONLY)
	tools/handout $(if $(filter command line,$(origin CHAPTERS)),--chapters "$(CHAPTERS)") \
	    "$(HANDOUT_OUT)" "$(HANDOUT_SOLUTIONS)"

# GitHub Classroom's files added to the handout (made first when there is
# none; `make handout classroom` makes it afresh): autograding.json, one
# test per chapter handed out (`make -C NN-name test`, points from the tags,
# CLASSROOM_TIMEOUT minutes each), and the workflow that runs them. Practice
# feedback only: students can edit both (tools/classroom).
CLASSROOM_TIMEOUT ?= 10
classroom:
	$(MASTER_ONLY)
	@test -f "$(HANDOUT_OUT)/Makefile" || $(MAKE) --no-print-directory handout
	tools/classroom --timeout "$(CLASSROOM_TIMEOUT)" "$(HANDOUT_OUT)"

# The handout and its solutions give back this tree byte for byte, and no
# chapter's taught call is left in the handout's programs.
handout-check:
	$(MASTER_ONLY)
	tools/handout --check

# The handout builds with clang++ and g++, and this suite against it passes
# every usage test and fails every exchange test (tools/handout-suite).
handout-test:
	$(MASTER_ONLY)
	$(call lab_need,test)
	tools/handout-suite

# Gradescope's autograder zip, build/autograder.zip (tools/autograder):
# setup.sh, run_autograder and the grading tree, hidden tests included, no
# chapter's program sources. GRADE_LIMIT, GRADE_VALGRIND, GRADE_TESTS...
# given here become run_autograder's defaults. TEACHING.md, "Gradescope".
autograder:
	$(MASTER_ONLY)
	tools/autograder build/autograder.zip

# Static gates over the whole tree: clang-format, clang-tidy, cppcheck, shellcheck.
check:
	$(call lab_need,check)
	tools/check

# Installs every Debian package the lab uses (as root; see tools/packages).
setup:
	@if [ -z "$$(tools/need --packages all)" ]; then echo "setup: everything is installed"; \
	else tools/need --install; fi
	@if [ "$$(id -u)" = 0 ]; then tools/grade --setup-sandbox; \
	else echo "setup: as root, tools/grade --setup-sandbox gives the grader's sandbox its ids"; fi

clean:
	$(Q)for dir in common $(CHAPTERS) bench; do $(MAKE) $(if $(Q),-s) --no-print-directory -C $$dir clean || exit 1; done
	rm -rf build

help:
	@echo "ipc-lab: one chapter per Linux IPC mechanism, each a server/client pair."
	@echo
	@echo "  make              build every chapter (g++; CXX=clang++ for clang; V=1 shows commands)"
	@echo "  make NN-name      build one chapter (or: make -C NN-name)"
	@echo "  make demo         run every chapter's pair once and show the transcript"
	@echo "  make test         run the Bats suite; ends with 'N passed, N failed'"
	@echo "  make valgrind     the same suite, every program under memcheck"
	@echo "  make valgrind-subset  only the tests tagged memcheck, under memcheck (what make grade runs)"
	@echo "  make sanitize     the same suite against an ASan+UBSan build (build/asan/)"
	@echo "  make bench        measure every mechanism (latency, throughput); make bench-plot draws charts"
	@echo "  make trace        one exchange of every chapter under strace: the calls it teaches, by role"
	@echo "  make stress       soak every server with many clients; check replies, fds, leftovers"
	@echo "  make grade        grade this checkout, or GRADE_DIR=path a student's: table, JUnit, Gradescope JSON"
	@echo "  make grade-all GRADE_ALL_DIR=dir   grade every submission there (GRADE_JOBS at a time): CSV summary"
	@echo "  make autograder   build/autograder.zip for Gradescope (setup.sh, run_autograder, the grading tree)"
	@echo "  make check        clang-format, clang-tidy, cppcheck, shellcheck: zero findings"
	@echo "  make handout      the student tree in build/handout/ (CHAPTERS=\"03-fifo ...\" for some)"
	@echo "  make handout-check  the handout round trip: solutions put back give this tree"
	@echo "  make handout-test  build the handout, run the suite on it: usage tests pass, exchange tests fail"
	@echo "  make classroom    add GitHub Classroom's autograding.json and workflow to the handout (practice feedback)"
	@echo "  make clean        remove everything built"
	@echo "  make setup        install the Debian packages the lab needs (as root)"
	@echo "  make -C NN-name test | valgrind | demo | trace    the same for one chapter"
	@echo
	@echo "chapters: $(CHAPTERS)"
