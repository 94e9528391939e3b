// The fixture the VDir unit tests share: a fresh directory on /dev/shm per test, a writer
// created there, and readers over their own PROT_READ mapping of the file, as a shimmed
// process has.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "vrift/vdir/vdir_reader.h"
#include "vrift/vdir/vdir_writer.h"

namespace vrift::vdir {

class VdirFileTest : public ::testing::Test {
protected:
  void SetUp() override {
    char tmpl[] = "/dev/shm/vrift-vdir-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    m_dir = tmpl;
  }
  void TearDown() override {
    vdir_unmap(&m_map);
    std::system(("rm -rf " + m_dir).c_str());
  }

  /// A writer for file(); max_bytes 64 MiB unless O says otherwise.
  VdirWriter make(VdirOptions o = {}) {
    o.max_bytes = o.max_bytes == (uint64_t{1} << 30) ? (uint64_t{64} << 20) : o.max_bytes;
    auto w = VdirWriter::create(file(), o);
    EXPECT_TRUE(w.ok()) << w.error().message();
    return w.ok() ? std::move(w).value() : VdirWriter{};
  }
  /// A reader over a separate PROT_READ mapping of the file, as a shimmed process has.
  VdirReader reader() {
    vdir_unmap(&m_map);
    EXPECT_EQ(vdir_map_readonly(file().c_str(), &m_map), 0);
    VdirReader r;
    EXPECT_EQ(r.attach(m_map.base, m_map.len), VdirAttach::kOk);
    return r;
  }
  std::string file() const { return m_dir + "/session.vdir"; }

  std::string m_dir;
  VdirMapping m_map;
};

} // namespace vrift::vdir
