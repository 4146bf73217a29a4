#include "train/train_checkpoint.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include <ATen/ATen.h>
#include <fmt/ranges.h>

#include "ophtha/error.hpp"
#include "ophtha/safetensors.hpp"

namespace ophtha::train {

void make_directories(const std::string& dir) {
  for (size_t slash = dir.find('/', 1);; slash = dir.find('/', slash + 1)) {
    const std::string prefix = slash == std::string::npos ? dir : dir.substr(0, slash);
    if (!prefix.empty() && ::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST)
      fail(ErrorCode::Io, "{}: cannot create the folder: {}", prefix, std::strerror(errno));
    if (slash == std::string::npos) break;
  }
}

void write_checkpoint(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  const size_t slash = path.find_last_of('/');
  if (slash != std::string::npos && slash > 0) make_directories(path.substr(0, slash));
  std::vector<SafetensorsTensorData> data;
  data.reserve(tensors.size());
  for (const auto& [name, tensor] : tensors) {
    const at::Tensor t = tensor.detach().to(at::kFloat).contiguous();
    std::vector<uint8_t> bytes(static_cast<size_t>(t.numel()) * sizeof(float));
    std::memcpy(bytes.data(), t.data_ptr<float>(), bytes.size());
    data.push_back({name, "F32", t.sizes().vec(), std::move(bytes)});
  }
  write_safetensors(path, data, metadata);
}

CheckpointContents read_checkpoint(const std::string& path) {
  const SafetensorsFile file = SafetensorsFile::open(path);
  CheckpointContents c;
  c.metadata = file.metadata();
  const auto format = c.metadata.find("format");
  if (format == c.metadata.end() || format->second != kCheckpointFormat)
    fail(ErrorCode::InvalidFormat, "{}: not an Ophtha training checkpoint (__metadata__.format is '{}', expected '{}')",
         path, format == c.metadata.end() ? "" : format->second, kCheckpointFormat);
  for (const SafetensorsTensor& t : file.tensors()) {
    if (t.dtype != "F32")
      fail(ErrorCode::InvalidFormat, "{}: tensor '{}' has dtype {}, expected F32", path, t.name, t.dtype);
    at::Tensor copy = at::empty(t.shape, at::kFloat);
    std::memcpy(copy.data_ptr<float>(), t.data, t.nbytes);
    c.tensors.emplace(t.name, std::move(copy));
  }
  return c;
}

int64_t metadata_integer(const CheckpointContents& c, const std::string& key, const std::string& path) {
  const auto it = c.metadata.find(key);
  if (it == c.metadata.end()) fail(ErrorCode::InvalidFormat, "{}: __metadata__ has no '{}'", path, key);
  try {
    size_t used = 0;
    const long long v = std::stoll(it->second, &used);
    if (used == it->second.size() && v >= 0) return v;
  } catch (const std::exception&) {
  }
  fail(ErrorCode::InvalidFormat, "{}: __metadata__ '{}' is '{}', expected a non-negative integer", path, key, it->second);
}

void check_run_identity(const CheckpointContents& c, const std::string& identity, const std::string& path) {
  const auto run = c.metadata.find("run");
  if (run == c.metadata.end() || run->second != identity)
    fail(ErrorCode::InvalidFormat, "{}: written by another run: its configuration is {}, this one is {}", path,
         run == c.metadata.end() ? "absent" : run->second, identity);
}

void restore_tensors(const CheckpointContents& c, const std::string& prefix,
                     const std::vector<std::pair<std::string, at::Tensor>>& tensors, const std::string& path) {
  for (const auto& [name, t] : tensors) {
    const auto it = c.tensors.find(prefix + name);
    if (it == c.tensors.end()) fail(ErrorCode::InvalidFormat, "{}: tensor '{}{}' is missing", path, prefix, name);
    if (it->second.sizes() != t.sizes())
      fail(ErrorCode::InvalidFormat, "{}: tensor '{}{}' has shape [{}], expected [{}]", path, prefix, name,
           fmt::join(it->second.sizes(), ", "), fmt::join(t.sizes(), ", "));
    at::NoGradGuard no_grad;
    t.copy_(it->second);
  }
}

std::map<std::string, at::Tensor> optimizer_moments(const CheckpointContents& c) {
  std::map<std::string, at::Tensor> moments;
  for (const auto& [name, t] : c.tensors)
    if (name.rfind("adamw/", 0) == 0) moments.emplace(name.substr(6), t);
  return moments;
}

void save_run_checkpoint(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& params,
                         const std::vector<std::pair<std::string, at::Tensor>>& buffers, const AdamW& optimizer,
                         int64_t step, const std::string& identity) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& [name, t] : params) tensors.emplace_back("param/" + name, t);
  for (const auto& [name, t] : buffers) tensors.emplace_back("buffer/" + name, t);
  for (const auto& [name, t] : optimizer.state()) tensors.emplace_back("adamw/" + name, t);
  write_checkpoint(path, tensors,
                   {{"format", kCheckpointFormat},
                    {"step", std::to_string(step)},
                    {"adamw_steps", std::to_string(optimizer.step_count())},
                    {"run", identity}});
}

int64_t load_run_checkpoint(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& params,
                            const std::vector<std::pair<std::string, at::Tensor>>& buffers, AdamW& optimizer,
                            const std::string& identity) {
  const CheckpointContents c = read_checkpoint(path);
  check_run_identity(c, identity, path);
  restore_tensors(c, "param/", params, path);
  restore_tensors(c, "buffer/", buffers, path);
  optimizer.load_state(optimizer_moments(c), metadata_integer(c, "adamw_steps", path), path);
  return metadata_integer(c, "step", path);
}

}  // namespace ophtha::train
