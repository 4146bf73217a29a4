// StopStringMatcher: what is emitted, what is held back, and when generation stops.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "ophtha/error.hpp"
#include "ophtha/stop_strings.hpp"

using namespace ophtha;

namespace {

// Pushes every piece and returns everything emitted (pushes, then flush unless stopped).
std::string stream(StopStringMatcher& matcher, const std::vector<std::string>& pieces) {
  std::string out;
  for (const std::string& piece : pieces) out += matcher.push(piece);
  if (!matcher.stopped()) out += matcher.flush();
  return out;
}

}  // namespace

TEST_CASE("a stop string split across pushes is held back and never emitted") {
  StopStringMatcher matcher({"</stop>"});
  CHECK_MESSAGE(matcher.push("Findings: normal.</s") == "Findings: normal.", "\"</s\" may start \"</stop>\"");
  CHECK_FALSE(matcher.stopped());
  CHECK_MESSAGE(matcher.push("top> trailing") == "", "the text before the stop string was already emitted");
  CHECK(matcher.stopped());
  CHECK_MESSAGE(matcher.push("more") == "", "nothing is emitted after a stop");
  CHECK(matcher.flush() == "");
}

TEST_CASE("a stop string split over many single-byte pushes stops at its start") {
  StopStringMatcher matcher({"###"});
  const std::string text = "a#b##c###d";
  std::string out;
  for (char c : text) out += matcher.push(std::string(1, c));
  CHECK(matcher.stopped());
  CHECK_MESSAGE(out == "a#b##c", "expected the text before \"###\", got \"" << out << "\"");
}

TEST_CASE("a stop string inside one push cuts the text there") {
  StopStringMatcher matcher({"\n\n"});
  CHECK(matcher.push("line one\n\nline two") == "line one");
  CHECK(matcher.stopped());
}

TEST_CASE("with several stop strings the earliest occurrence wins") {
  StopStringMatcher matcher({"END", "</s>", "Q:"});
  CHECK(matcher.push("answer Q: next END") == "answer ");
  CHECK(matcher.stopped());

  StopStringMatcher split({"END", "</s>"});
  CHECK(split.push("abc</") == "abc");
  CHECK(split.push("s>END") == "");
  CHECK(split.stopped());

  StopStringMatcher nested({"</s>", "</s"});  // one a prefix of the other: same cut
  CHECK(nested.push("x</s") == "x");
  CHECK(nested.stopped());
}

TEST_CASE("a held-back prefix that turns out not to be a stop string is released") {
  StopStringMatcher matcher({"</stop>"});
  CHECK(matcher.push("a </st") == "a ");
  CHECK_MESSAGE(matcher.push("ep") == "</step", "\"</step\" can no longer become \"</stop>\"");
  CHECK_FALSE(matcher.stopped());

  // Only the part that can still start a stop string stays held: "<<" → release "<", keep "<".
  StopStringMatcher overlapping({"<<x"});
  CHECK(overlapping.push("<<") == "");
  CHECK(overlapping.push("<") == "<");
  CHECK(overlapping.push("x") == "");
  CHECK(overlapping.stopped());
}

TEST_CASE("UTF-8 multi-byte stop strings are matched across pushes and cut on character boundaries") {
  const std::string stop = "。诊断";  // E3 80 82  E8 AF 8A  E6 96 AD
  StopStringMatcher matcher({stop});
  CHECK(matcher.push("视网膜正常") == "视网膜正常");
  CHECK_MESSAGE(matcher.push("。") == "", "\"。\" starts the stop string");
  CHECK(matcher.push("诊") == "");
  CHECK(matcher.push("断：糖尿病视网膜病变") == "");
  CHECK(matcher.stopped());

  StopStringMatcher released({stop});
  CHECK(released.push("正常。") == "正常");
  CHECK_MESSAGE(released.push("建议复查") == "。建议复查", "\"。建\" is not \"。诊\": release the full stop");

  // Byte by byte through the stop string: each byte of it is held, nothing partial leaks.
  StopStringMatcher bytes({stop});
  const std::string text = "结果" + stop + "无";
  std::string out;
  for (char c : text) out += bytes.push(std::string(1, c));
  CHECK(bytes.stopped());
  CHECK(out == "结果");

  // A character sharing only its lead byte with the stop string (E3 80 81, "、") is released whole.
  StopStringMatcher lead({stop});
  CHECK(stream(lead, {"甲", "\xE3", "\x80", "\x81", "乙"}) == "甲、乙");
  CHECK_FALSE(lead.stopped());
}

TEST_CASE("flush returns the held-back tail at the end of the stream, once") {
  StopStringMatcher matcher({"</stop>"});
  CHECK(matcher.push("done </sto") == "done ");
  CHECK_MESSAGE(matcher.flush() == "</sto", "the stream ended before the stop string completed");
  CHECK(matcher.flush() == "");
  CHECK_FALSE(matcher.stopped());
  CHECK_MESSAGE(matcher.push("p>") == "p>", "after flush the held prefix is gone, so \"p>\" is plain text");
}

TEST_CASE("without stop strings the text passes through unchanged") {
  StopStringMatcher matcher({});
  CHECK(matcher.push("anything </s") == "anything </s");
  CHECK(matcher.flush() == "");
  CHECK_FALSE(matcher.stopped());
}

TEST_CASE("an empty stop string is refused, naming its index") {
  CHECK_THROWS_WITH_AS(StopStringMatcher({"ok", ""}), doctest::Contains("stop string 1"), Error);
}
