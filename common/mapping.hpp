// mapping.hpp - a mapping this process made with mmap(): munmap() when its
// owner goes, exactly once.
//
// Only the release lives here. mmap() itself is called by the programs, at
// their numbered step, where a reader looks for it (07-shm, 09-mmap):
//
//   void* address = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
//   if (address == MAP_FAILED) throw lab::sys_error("mmap " + path);
//   lab::Mapping mapping(address, bytes); // from here on, every way out unmaps it
//   auto& layout = mapping.as<Layout>();
#pragma once

#include <cstddef>
#include <sys/mman.h>

namespace lab {

class Mapping {
  public:
    Mapping(void* address, std::size_t bytes) : address_(address), bytes_(bytes) {}
    Mapping(const Mapping&) = delete;
    Mapping& operator=(const Mapping&) = delete;
    ~Mapping() { ::munmap(address_, bytes_); } // on the way out: nothing to report to

    void* address() const { return address_; }
    std::size_t bytes() const { return bytes_; }
    template <typename T>
    T& as() const {
        return *static_cast<T*>(address_);
    }

  private:
    void* address_;
    std::size_t bytes_;
};

} // namespace lab
