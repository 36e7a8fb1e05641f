# demo.bash - sourced by each chapter's demo.sh (`make demo`): runs the pair
# as a reader would in two terminals and prints the transcript, commands
# first ("$ ./client hello"), the server's lines marked "[server]".
#
#   source ../mk/demo.bash
#   demo_server ./server              # background; waits (bounded) for `ready`
#   demo_run ./client hello 'big world'
#   demo_stop                         # SIGINT; shows the server's last lines
#
# The server is stopped on every way out (an EXIT trap), and the demo fails
# if it does not exit 0 within 5 seconds of SIGINT.
set -euo pipefail

DEMO_LOG=$(mktemp)
DEMO_SHOWN=0
DEMO_SERVER_PID=
demo_cleanup() {
    if [[ -n $DEMO_SERVER_PID ]] && kill -0 "$DEMO_SERVER_PID" 2>/dev/null; then
        kill -TERM "$DEMO_SERVER_PID" 2>/dev/null || true
        wait "$DEMO_SERVER_PID" 2>/dev/null || true
    fi
    rm -f "$DEMO_LOG"
}
trap demo_cleanup EXIT

demo_show_command() {
    local line='$' word
    for word in "$@"; do
        if [[ $word =~ ^[A-Za-z0-9_./=:@%+-]+$ ]]; then line+=" $word"; else line+=" '$word'"; fi
    done
    echo "$line"
}

# Prints the server's lines that are new since last time.
demo_server_lines() {
    local total
    total=$(wc -l <"$DEMO_LOG")
    if ((total > DEMO_SHOWN)); then
        tail -n "+$((DEMO_SHOWN + 1))" "$DEMO_LOG" | head -n "$((total - DEMO_SHOWN))" | sed 's/^/[server] /'
        DEMO_SHOWN=$total
    fi
}

demo_server() {
    echo "$(demo_show_command "$@") &"
    # Emptied here, not by the background job's `>`: that runs in the child,
    # later, and the wait below would find the last server's ready line.
    : >"$DEMO_LOG"
    "$@" >>"$DEMO_LOG" 2>&1 </dev/null &
    DEMO_SERVER_PID=$!
    DEMO_SHOWN=0 # a new log: show it from its first line
    local tries=0
    until grep -q '^ready ' "$DEMO_LOG"; do
        if ! kill -0 "$DEMO_SERVER_PID" 2>/dev/null || ((++tries > 250)); then
            cat "$DEMO_LOG" >&2
            echo "demo: the server did not get ready" >&2
            exit 1
        fi
        sleep 0.02
    done
    demo_server_lines
}

demo_run() {
    demo_show_command "$@"
    "$@"
    sleep 0.1 # only so the transcript shows the server's log lines in order
    demo_server_lines
}

demo_stop() {
    demo_show_command kill -INT "$DEMO_SERVER_PID"
    kill -INT "$DEMO_SERVER_PID"
    local status=0 tries=0
    while kill -0 "$DEMO_SERVER_PID" 2>/dev/null && ((++tries < 250)); do sleep 0.02; done
    wait "$DEMO_SERVER_PID" || status=$?
    DEMO_SERVER_PID=
    demo_server_lines
    if ((status != 0)); then
        echo "demo: the server exited with status $status" >&2
        exit 1
    fi
}
