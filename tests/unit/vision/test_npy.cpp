// .npy files: round trips through Ophtha's writer and reader, exchange with numpy in both
// directions (format versions 1.0 and 2.0), and the errors for malformed files.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "ophtha/error.hpp"
#include "support/expect_error.hpp"
#include "ophtha/npy.hpp"

using namespace ophtha;
namespace fs = std::filesystem;

namespace {

const fs::path kWork = fs::path(OPHTHA_TEST_WORK_DIR) / "vision-npy";


int python(const std::string& code) {
  fs::create_directories(kWork);
  const fs::path script = kWork / "script.py";
  std::ofstream(script) << code;
  return std::system(("/usr/bin/python3 " + script.string()).c_str());
}

}  // namespace

TEST_CASE("float32 and uint8 arrays of any rank round-trip through write_npy and read_npy") {
  fs::create_directories(kWork);
  for (const std::vector<int64_t>& shape :
       std::vector<std::vector<int64_t>>{{}, {5}, {3, 4}, {2, 3, 4}, {0, 7}, {1, 1, 1, 3}}) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<float> values(n);
    std::vector<uint8_t> bytes(n);
    for (int64_t i = 0; i < n; ++i) values[i] = 0.5f * i - 3.25f, bytes[i] = static_cast<uint8_t>(i * 37);
    const std::string path = (kWork / "round_trip.npy").string();
    write_npy(path, values.data(), shape);
    NpyArray f = read_npy(path);
    CHECK(f.dtype == NpyDtype::Float32);
    CHECK(f.shape == shape);
    CHECK(f.f32 == values);
    write_npy(path, bytes.data(), shape);
    NpyArray u = read_npy(path);
    CHECK(u.dtype == NpyDtype::UInt8);
    CHECK(u.shape == shape);
    CHECK(u.u8 == bytes);
    CHECK(u.numel() == n);
  }
}

TEST_CASE("numpy reads what write_npy writes and write_npy reads what numpy writes") {
  const std::vector<float> values = {1.5f, -2.0f, 3.25f, 0.0f, 1e-7f, 65504.0f};
  const std::string ours = (kWork / "ours.npy").string();
  fs::create_directories(kWork);
  write_npy(ours, values.data(), {2, 3});
  CHECK(python("import numpy as np, sys\n"
               "a = np.load(r'" + ours + "')\n"
               "ok = a.dtype == np.float32 and a.shape == (2, 3) and a.flags.c_contiguous and "
               "(a == np.array([[1.5, -2, 3.25], [0, 1e-7, 65504]], np.float32)).all()\n"
               "sys.exit(0 if ok else 1)\n") == 0);

  const std::string v1 = (kWork / "numpy_v1.npy").string(), v2 = (kWork / "numpy_v2.npy").string(),
                    u8 = (kWork / "numpy_u8.npy").string();
  REQUIRE(python("import numpy as np\n"
                 "a = (np.arange(24, dtype=np.float32) * 0.25 - 1).reshape(2, 3, 4)\n"
                 "np.save(r'" + v1 + "', a)\n"
                 "with open(r'" + v2 + "', 'wb') as f: np.lib.format.write_array(f, a, version=(2, 0))\n"
                 "np.save(r'" + u8 + "', np.arange(10, dtype=np.uint8).reshape(10, 1) * 25)\n") == 0);
  for (const std::string& path : {v1, v2}) {
    CAPTURE(path);
    const NpyArray a = read_npy(path);
    REQUIRE(a.shape == std::vector<int64_t>{2, 3, 4});
    for (int i = 0; i < 24; ++i) CHECK(a.f32[i] == static_cast<float>(i * 0.25 - 1));
  }
  const NpyArray b = read_npy(u8);
  REQUIRE(b.dtype == NpyDtype::UInt8);
  REQUIRE(b.shape == std::vector<int64_t>{10, 1});
  for (int i = 0; i < 10; ++i) CHECK(b.u8[i] == i * 25);
}

TEST_CASE("malformed .npy files are rejected naming the source and the field") {
  const float values[6] = {1, 2, 3, 4, 5, 6};
  const std::vector<uint8_t> good = serialize_npy(NpyDtype::Float32, values, {2, 3});
  REQUIRE(good.size() % 64 == 24);  // 64-byte aligned header + 24 data bytes
  auto parse = [](const std::vector<uint8_t>& bytes) { parse_npy(bytes.data(), bytes.size(), "t.npy"); };
  auto with_header = [&](const std::string& header) {
    std::vector<uint8_t> out(good.begin(), good.begin() + 8);
    out.push_back(static_cast<uint8_t>(header.size()));
    out.push_back(0);
    out.insert(out.end(), header.begin(), header.end());
    out.insert(out.end(), good.end() - 24, good.end());
    return out;
  };
  CHECK_NOTHROW(parse(with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }")));
  test::expect_error([&] { parse({'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0, 0}); }, ErrorCode::InvalidFormat, "t.npy: not a .npy");
  test::expect_error([&] { parse(with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }")); },
              ErrorCode::Unsupported, "dtype '<f8'");
  test::expect_error([&] { parse(with_header("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }")); },
              ErrorCode::Unsupported, "dtype '>f4'");
  test::expect_error([&] { parse(with_header("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }")); },
              ErrorCode::Unsupported, "Fortran order");
  test::expect_error([&] { parse(with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }")); },
              ErrorCode::InvalidFormat, "needs 32 data bytes, the file has 24");
  test::expect_error([&] { parse(with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }")); },
              ErrorCode::InvalidFormat, "non-negative integer");
  test::expect_error([&] { parse(with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999, 99999999999), }")); },
              ErrorCode::InvalidFormat, "overflows");
  test::expect_error([&] { parse(with_header("{'descr': '<f4', 'shape': (2, 3), }")); }, ErrorCode::InvalidFormat,
              "lacks 'fortran_order'");
  test::expect_error([&] { parse(with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)")); },
              ErrorCode::InvalidFormat, "malformed .npy header");
  std::vector<uint8_t> v9 = good;
  v9[6] = 9;
  test::expect_error([&] { parse(v9); }, ErrorCode::Unsupported, "version 9.0");
  for (size_t n = 0; n < good.size(); ++n) {  // every truncation
    CAPTURE(n);
    CHECK_THROWS_AS(parse(std::vector<uint8_t>(good.begin(), good.begin() + n)), Error);
  }
  test::expect_error([&] { read_npy((kWork / "absent.npy").string()); }, ErrorCode::Io, "absent.npy");
}
