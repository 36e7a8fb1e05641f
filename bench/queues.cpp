// queues.cpp - System V and POSIX message queues.
//
// A message queue is a list of messages kept in the kernel: msgsnd() and
// mq_send() copy the message in, msgrcv() and mq_receive() copy it out, and
// boundaries are kept. Both limit the message size (here msgmax and
// msgsize_max are 8192 bytes), so throughput is measured in 8 KiB messages:
// eight times the system calls of a 64 KiB pipe write for the same bytes.
#include "mechanisms.hpp"
#include "objects.hpp"

#include "errors.hpp"

#include <cerrno>
#include <cstring>
#include <optional>
#include <sys/msg.h>
#include <vector>

namespace bench {

namespace {

// One System V queue carries both directions: A sends type 1 and takes
// type 2, B the other way round (msgrcv picks messages by type).
class SysvMessageLink : public Link {
  public:
    SysvMessageLink(int queue_id, long send_type, long receive_type, std::size_t bytes)
        : queue_id_(queue_id), send_type_(send_type), receive_type_(receive_type),
          text_bytes_(bytes), buffer_((page_bytes + bytes) / sizeof(std::uint64_t)) {}

    void send(std::span<const std::byte> message) override {
        // msgsnd() wants the type right before the text, so the message is
        // copied behind it (a real sender would build it there).
        *type() = send_type_;
        std::memcpy(text(), message.data(), message.size());
        // The size counts the text only, never the type (a classic slip).
        while (::msgsnd(queue_id_, type(), message.size(), 0) < 0) {
            if (errno != EINTR) {
                throw lab::sys_error("msgsnd");
            }
        }
    }
    std::span<const std::byte> receive() override {
        ssize_t got = -1;
        while ((got = ::msgrcv(queue_id_, type(), text_bytes_, receive_type_, 0)) < 0) {
            if (errno != EINTR) {
                throw lab::sys_error("msgrcv"); // E2BIG for a longer message: never cut silently
            }
        }
        return {text(), static_cast<std::size_t>(got)};
    }

  private:
    // The text starts a page into the buffer (page-aligned, like every
    // other buffer here); the type is the long just before it.
    std::byte* text() { return buffer_.bytes().data() + page_bytes; }
    long* type() { return reinterpret_cast<long*>(text()) - 1; }

    int queue_id_;
    long send_type_;
    long receive_type_;
    std::size_t text_bytes_;
    PageAlignedWords buffer_;
};

class SysvMessagePair : public LinkPair {
  protected:
    std::unique_ptr<Link> open(Side& side) override {
        constexpr long a_to_b = 1;
        constexpr long b_to_a = 2;
        bool is_a = side.role() == Role::a;
        return std::make_unique<SysvMessageLink>(queue_.id(), is_a ? a_to_b : b_to_a,
                                                 is_a ? b_to_a : a_to_b, side.job().message_bytes);
    }

  private:
    SysvQueue queue_;
};

class PosixQueueLink : public Link {
  public:
    PosixQueueLink(mqd_t out, mqd_t in, std::size_t bytes)
        : out_(out), in_(in), buffer_(bytes / sizeof(std::uint64_t)) {}

    void send(std::span<const std::byte> message) override {
        while (::mq_send(out_, reinterpret_cast<const char*>(message.data()), message.size(), 0) <
               0) {
            if (errno != EINTR) {
                throw lab::sys_error("mq_send");
            }
        }
    }
    std::span<const std::byte> receive() override {
        // The buffer must hold mq_msgsize bytes, or mq_receive fails EMSGSIZE.
        ssize_t got = -1;
        while ((got = ::mq_receive(in_, reinterpret_cast<char*>(buffer_.data()),
                                   buffer_.bytes().size(), nullptr)) < 0) {
            if (errno != EINTR) {
                throw lab::sys_error("mq_receive");
            }
        }
        return buffer_.bytes().first(static_cast<std::size_t>(got));
    }

  private:
    mqd_t out_;
    mqd_t in_;
    PageAlignedWords buffer_;
};

// POSIX queues are one-way by nature (no types to pick by): one per direction.
class PosixQueuePair : public LinkPair {
  public:
    explicit PosixQueuePair(const Job& job)
        : a_to_b_("a-to-b", max_messages, static_cast<long>(job.message_bytes)) {
        if (job.metric == Metric::latency) {
            b_to_a_.emplace("b-to-a", max_messages, static_cast<long>(job.message_bytes));
        }
    }

  protected:
    std::unique_ptr<Link> open(Side& side) override {
        auto none = static_cast<mqd_t>(-1);
        mqd_t back = b_to_a_ ? b_to_a_->get() : none;
        if (side.role() == Role::a) {
            return std::make_unique<PosixQueueLink>(a_to_b_.get(), back, side.job().message_bytes);
        }
        return std::make_unique<PosixQueueLink>(back, a_to_b_.get(), side.job().message_bytes);
    }

  private:
    static constexpr long max_messages =
        10; // /proc/sys/fs/mqueue/msg_max, not exceeded without CAP_SYS_RESOURCE
    PosixQueue a_to_b_;
    std::optional<PosixQueue> b_to_a_;
};

} // namespace

std::unique_ptr<Pair> make_sysv_msg(const Job& /*job*/, const Placement& /*placement*/) {
    return std::make_unique<SysvMessagePair>();
}

std::unique_ptr<Pair> make_posix_mq(const Job& job, const Placement& /*placement*/) {
    return std::make_unique<PosixQueuePair>(job);
}

} // namespace bench
