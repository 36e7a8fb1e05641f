// deadline.hpp - one bound for a whole wait (--timeout), in the forms the calls take.
//
// poll() wants milliseconds left, semtimedop() a relative timespec,
// sem_timedwait()/mq_timedreceive()/pthread_mutex_timedlock() an absolute
// CLOCK_REALTIME timespec. The deadline itself is kept on CLOCK_MONOTONIC,
// so setting the clock never stretches or cuts a wait.
#pragma once

#include <ctime>

namespace lab {

class Deadline {
  public:
    explicit Deadline(double seconds);

    bool expired() const;
    double seconds_left() const;        // >= 0
    int milliseconds_left() const;      // rounded up, for poll(); >= 0
    timespec relative() const;          // time left, for semtimedop()
    timespec absolute_realtime() const; // now + time left on CLOCK_REALTIME

    // The shorter of the time left and `tick_ms`: for waits that must wake
    // now and then to check for a stop request.
    int tick_milliseconds(int tick_ms) const;

  private:
    timespec end_{};
};

} // namespace lab
