// 09-mmap/server.cpp - the contract's exchange through a file mapped MAP_SHARED.
//
//   server [--name NAME] [--keep]
//
// 1. Create: take the instance lock (a live server: "already running"),
//    unlink() what a killed server left, open(O_CREAT | O_EXCL, 0600) a
//    fresh NAME.map and posix_fallocate() it to the layout's size (blocks
//    and all: a full file system is an error here, not a SIGBUS later).
// 2. Attach: mmap(MAP_SHARED) it; inside, pthread_mutex_init() a robust
//    process-shared mutex and sem_init(pshared=1) two semaphores; store the
//    version last, so a client never uses a half-made file; print `ready`.
// 3. Exchange: sem_timedwait(request_ready) in ticks, to notice SIGINT and
//    SIGTERM; copy the request, write the reply labelled with the request's
//    sequence, sem_post(reply_ready), then msync(MS_SYNC) so the file on
//    disk shows the last request and the last reply. A post with no new
//    request behind it is stale: take out any others at once, log them once.
// 4. Detach: munmap() (lab::Mapping's destructor).
// 5. Remove: unlink() NAME.map unless --keep, then the instance lock.
#include "protocol.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>

namespace {

using mmap_lab::MapLayout;

// Below run().
void set_up(MapLayout& map);
void check_intact(int fd, const std::string& path);
void serve(MapLayout& map, const lab::Mapping& mapping, int fd, const std::string& path,
           const lab::StopSignals& stop);
bool answer(MapLayout& map, const lab::Mapping& mapping, const std::string& path,
            std::uint64_t& last_served);

int run(int argc, char** argv) {
    std::string name;
    bool keep = false;
    lab::Options options("[--name NAME] [--keep]",
                         "Serves clients through RUNTIME/mmap/NAME.map, a file both sides map\n"
                         "MAP_SHARED, until SIGINT or SIGTERM; then removes it (unless --keep).");
    options.add_name(name);
    options.flag("--keep", "leave NAME.map behind on exit, to inspect it", keep);
    if (auto operands = options.parse(argc, argv); !operands.empty()) {
        throw lab::UsageError("unexpected argument '" + operands.front() + "'");
    }

    // 1. Create: one server per NAME; a NAME.map there now is a killed
    //    server's leftover, ours to replace.
    lab::InstanceLock instance(mmap_lab::topic, name);
    lab::ignore_sigpipe(); // a log reader that goes away: EPIPE, exit 1, files removed
    lab::StopSignals stop;
    const std::string path = mmap_lab::map_path(name);
    if (::unlink(path.c_str()) < 0 && errno != ENOENT) {
        throw lab::sys_error("unlink leftover " + path);
    }
    // TASK 1 (step 1): create NAME.map and give it its size
    //   `lab::Fd fd(open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
    //   lab::owner_only))`: `O_EXCL` fails rather than share a file that
    //   appeared since the leftover was removed. On failure
    //   `lab::sys_error("open " + path)`. Right after it, `lab::OwnedPath
    //   map_file(path);` so that every way out removes the file. `open()`'s
    //   mode is filtered by the umask: `fchmod(fd.get(), lab::owner_only)`
    //   (`lab::sys_error("fchmod " + path)`). Then fix the size once and take
    //   the blocks: `posix_fallocate(fd.get(), 0, mmap_lab::map_bytes)`. It
    //   returns the error number instead of setting `errno`: pass it to
    //   `lab::check_error_number(result, "posix_fallocate " + path)`. (With
    //   `ftruncate()` the file would have its size but no blocks; on a full
    //   file system the first store into the mapping would be a SIGBUS.)
    //   man 2 open, man 2 fchmod, man 3 posix_fallocate
    //   check: `./server --keep`, stop it, then `ls -l` shows NAME.map, 0600
    //   stub: lab::Fd fd(lab::not_written_yet<int>(1, 1, "create NAME.map and give it its size"));
    //   stub: lab::OwnedPath map_file(path);
    // O_EXCL: if anything appeared there since, fail rather than share it.
    lab::Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, lab::owner_only));
    if (!fd) {
        throw lab::sys_error("open " + path);
    }
    lab::OwnedPath map_file(path); // ours from here: every way out removes it
    // open()'s mode is filtered by the umask: say exactly what we mean.
    if (::fchmod(fd.get(), lab::owner_only) < 0) {
        throw lab::sys_error("fchmod " + path);
    }
    // The file's size is fixed here, once, and its blocks taken: every page
    // of the mapping then has file behind it. (ftruncate() would set the
    // size and take no blocks; on a full file system the first store into
    // the mapping would then be SIGBUS.) posix_fallocate() returns the
    // error, not errno. Fresh bytes read as zero.
    lab::check_error_number(::posix_fallocate(fd.get(), 0, mmap_lab::map_bytes),
                            "posix_fallocate " + path);

    // END TASK 1

    // 2. Attach, and set up what the clients share.
    // TASK 2 (step 2): map the file MAP_SHARED with mmap
    //   `mmap(nullptr, mmap_lab::map_bytes, PROT_READ | PROT_WRITE,
    //   MAP_SHARED, fd.get(), 0)`: the kernel picks the address; every
    //   process that maps the file `MAP_SHARED` sees the same pages, and
    //   they are the file's. Failure is `MAP_FAILED`, not `nullptr`:
    //   `lab::sys_error("mmap " + path)`. Hold the result as
    //   `lab::Mapping mapping(address, mmap_lab::map_bytes)`: its destructor
    //   `munmap()`s it (step 4).
    //   man 2 mmap
    //   check: `./server`, then `grep NAME.map /proc/PID/maps` shows the mapping
    //   stub: lab::Mapping mapping =
    //   stub:     lab::not_written_yet<lab::Mapping>(2, 2, "map the file MAP_SHARED with mmap");
    void* address =
        ::mmap(nullptr, mmap_lab::map_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    if (address == MAP_FAILED) { // not nullptr: mmap's failure value is MAP_FAILED
        throw lab::sys_error("mmap " + path);
    }
    lab::Mapping mapping(address, mmap_lab::map_bytes);
    // END TASK 2
    // From here on a file truncated under us is an error line, not a crash.
    lab::SigbusGuard guard(mapping.address(), mapping.bytes());
    auto& map = mapping.as<MapLayout>();
    set_up(map);
    check_intact(fd.get(), path);
    if (keep) {
        map_file.release(); // --keep: a whole file stays, however we leave; a half-made one did not
    }
    lab::print_ready({{"path", path}});

    // 3. Exchange, until SIGINT/SIGTERM.
    serve(map, mapping, fd.get(), path, stop);
    // The mutex and semaphores are not destroyed: a client may still be
    // blocked on them, which sem_destroy(3) calls undefined. They vanish
    // with the file's last mapping.

    // 4. Detach: munmap() in lab::Mapping's destructor.
    // 5. Remove: unlink() NAME.map in the OwnedPath's destructor (unless
    //    --keep), then the instance lock goes.
    return lab::exit_ok;
}

void set_up(MapLayout& map) {
    pthread_mutexattr_t attributes;
    lab::check_error_number(::pthread_mutexattr_init(&attributes), "pthread_mutexattr_init");
    // PROCESS_SHARED: the mutex lives in memory several processes map.
    // ROBUST: when its holder dies, the next locker gets EOWNERDEAD instead
    // of waiting forever for an unlock that will never come.
    lab::check_error_number(::pthread_mutexattr_setpshared(&attributes, PTHREAD_PROCESS_SHARED),
                            "pthread_mutexattr_setpshared");
    lab::check_error_number(::pthread_mutexattr_setrobust(&attributes, PTHREAD_MUTEX_ROBUST),
                            "pthread_mutexattr_setrobust");
    int made = ::pthread_mutex_init(&map.client_turn, &attributes);
    ::pthread_mutexattr_destroy(&attributes);
    lab::check_error_number(made, "pthread_mutex_init");

    // pshared=1: the semaphores work across processes (they must then live in
    // shared memory, which they do). Both start at 0: nothing to take yet.
    if (::sem_init(&map.request_ready, 1, 0) < 0 || ::sem_init(&map.reply_ready, 1, 0) < 0) {
        throw lab::sys_error("sem_init");
    }
    std::memcpy(map.magic, mmap_lab::magic_text, sizeof map.magic);
    map.layout_bytes = mmap_lab::map_bytes;
    map.server_pid = ::getpid();
    std::atomic_ref<std::uint32_t>(map.version)
        .store(mmap_lab::layout_version, std::memory_order_release);
}

// Someone of our uid truncated the file: what the clients and we shared is
// gone (a partial last page reads as zeros, whole pages past the end SIGBUS).
void check_intact(int fd, const std::string& path) {
    struct stat st {};
    if (::fstat(fd, &st) < 0) {
        throw lab::sys_error("fstat " + path);
    }
    const auto want = static_cast<off_t>(mmap_lab::map_bytes);
    if (lab::SigbusGuard::tripped() || st.st_size != want) {
        throw lab::Failure(path + ": " + (st.st_size < want ? "truncated" : "resized") + " to " +
                           std::to_string(st.st_size) + " bytes while mapped; giving up");
    }
}

// TASK 3 (step 3): answer the request, then msync it
//   `serve()` calls `answer()` after each post of `map.request_ready`.
//   Read the request slot: `mmap_lab::read_slot(map.request)`. None, or
//   its `sequence` equals `last_served`: a stale post, return false.
//   Else set `last_served` to it. A `length` over `lab::max_message_bytes`:
//   `lab::log_ignored("request of N bytes (at most 1024)")` and return
//   true. Otherwise `lab::log_received(message)`, write the reply slot
//   with `mmap_lab::write_slot(map.reply, sequence, lab::to_upper(message))`,
//   `sem_post(&map.reply_ready)` (`lab::sys_error("sem_post reply_ready")`),
//   and only then (the client need not wait for the disk)
//   `msync(mapping.address(), mapping.bytes(), MS_SYNC)`: it returns once
//   the dirty pages are written to the file (`lab::sys_error("msync " +
//   path)`). Return true.
//   man 2 msync, man 3 sem_post
//   check: `./server --keep`, `./client hi`, then `strings NAME.map` shows `hi` and `HI`
//   stub: bool answer(MapLayout& /*map*/, const lab::Mapping& /*mapping*/,
//   stub:             const std::string& /*path*/, std::uint64_t& /*last_served*/) {
//   stub:     return lab::not_written_yet<bool>(3, 3, "answer the request, then msync it");
//   stub: }
// Answers the request in the slot, if there is a new one. Returns false for
// a stale post: no request, or one already answered (a post left by a client
// that died or gave up after posting, whose slot a newer client has
// rewritten since; that client posts again for its own request).
bool answer(MapLayout& map, const lab::Mapping& mapping, const std::string& path,
            std::uint64_t& last_served) {
    std::optional<mmap_lab::SlotContents> request = mmap_lab::read_slot(map.request);
    if (!request || request->sequence == last_served) {
        return false;
    }
    last_served = request->sequence;
    if (request->length > lab::max_message_bytes) {
        lab::log_ignored("request of " + std::to_string(request->length) + " bytes (at most " +
                         std::to_string(lab::max_message_bytes) + ")");
        return true;
    }
    lab::log_received(request->message);
    mmap_lab::write_slot(map.reply, request->sequence, lab::to_upper(request->message));
    if (::sem_post(&map.reply_ready) < 0) {
        throw lab::sys_error("sem_post reply_ready");
    }
    // After the post, so the client does not wait for the disk. MS_SYNC
    // returns once the dirty pages are written to the file.
    if (::msync(mapping.address(), mapping.bytes(), MS_SYNC) < 0) {
        throw lab::sys_error("msync " + path);
    }
    return true;
}
// END TASK 3

void serve(MapLayout& map, const lab::Mapping& mapping, int fd, const std::string& path,
           const lab::StopSignals& stop) {
    const double tick_seconds = lab::stop_check_interval_ms / 1000.0;
    std::uint64_t last_served = mmap_lab::no_sequence;
    while (!stop.requested()) {
        check_intact(fd, path);
        timespec tick_end = lab::Deadline(tick_seconds).absolute_realtime();
        if (::sem_timedwait(&map.request_ready, &tick_end) < 0) {
            if (errno == ETIMEDOUT || errno == EINTR) {
                continue; // look at stop.requested() and the file again
            }
            throw lab::sys_error("sem_timedwait request_ready");
        }
        if (answer(map, mapping, path, last_served)) {
            continue;
        }
        // A stale post. Others counted now are stale too (or written by
        // someone who is not a client): take them all out and log them in
        // one line, rather than a turn each.
        std::uint64_t stale = 1 + lab::drain_stale_posts(map.request_ready, "request_ready");
        lab::log_ignored(std::to_string(stale) + " stale request post" + (stale == 1 ? "" : "s"));
        // A client that wrote its request and posted during the drain lost
        // its post with the rest: look at the slot once more.
        answer(map, mapping, path, last_served);
    }
}

} // namespace

int main(int argc, char** argv) {
    return lab::guarded_main(argc, argv, run);
}
