// Report tokenisation: Chinese by characters, English by lower-cased words, numbers kept whole.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "ophtha/error.hpp"
#include "ophtha/report_tokenizer.hpp"
#include "ophtha/text_metrics.hpp"

using ophtha::ReportTokens;
using ophtha::tokenize_report;

TEST_CASE("Chinese text is split into one token per ideograph and per CJK punctuation mark") {
  CHECK(tokenize_report("双眼黄斑区见黄白色渗出。") ==
        ReportTokens{"双", "眼", "黄", "斑", "区", "见", "黄", "白", "色", "渗", "出", "。"});
  CHECK(tokenize_report("诊断：糖尿病视网膜病变（双眼）") ==
        ReportTokens{"诊", "断", ":", "糖", "尿", "病", "视", "网", "膜", "病", "变", "(", "双", "眼", ")"});
  CHECK(tokenize_report("《报告》、「建议」") == ReportTokens{"《", "报", "告", "》", "、", "「", "建", "议", "」"});
}

TEST_CASE("English text is split into lower-cased words with punctuation split off") {
  CHECK(tokenize_report("Drusen in both eyes, OU.") ==
        ReportTokens{"drusen", "in", "both", "eyes", ",", "ou", "."});
  CHECK(tokenize_report("Non-proliferative DR; anti-VEGF (patient's choice)!") ==
        ReportTokens{"non-proliferative", "dr", ";", "anti-vegf", "(", "patient's", "choice", ")", "!"});
  CHECK(tokenize_report("  \t\n ") == ReportTokens{});
  CHECK(tokenize_report("") == ReportTokens{});
}

TEST_CASE("numbers with a decimal point or a slash stay whole; a point or slash elsewhere is split off") {
  CHECK(tokenize_report("VA 0.7, 20/20 and 2/3 of the disc.") ==
        ReportTokens{"va", "0.7", ",", "20/20", "and", "2/3", "of", "the", "disc", "."});
  CHECK(tokenize_report("C/D 0.6. IOP 18mmHg, -3.00D") ==
        ReportTokens{"c", "/", "d", "0.6", ".", "iop", "18mmhg", ",", "-", "3.00d"});
  CHECK(tokenize_report(".5 and 5. end") == ReportTokens{".", "5", "and", "5", ".", "end"});
  CHECK(tokenize_report("a--b x- -y") == ReportTokens{"a", "-", "-", "b", "x", "-", "-", "y"});
}

TEST_CASE("mixed Chinese and English text is split per script") {
  CHECK(tokenize_report("视力0.5，眼压18mmHg，OCT示drusen") ==
        ReportTokens{"视", "力", "0.5", ",", "眼", "压", "18mmhg", ",", "oct", "示", "drusen"});
}

TEST_CASE("fullwidth forms fold to ASCII and the ideographic space separates") {
  CHECK(tokenize_report("视力０.５　ＯＤ") == ReportTokens{"视", "力", "0.5", "od"});
  CHECK(tokenize_report("视力０.５") == tokenize_report("视力0.5"));
}

TEST_CASE("accented letters, Greek and symbols") {
  CHECK(tokenize_report("Ödème 5µm ±10% 90°") ==
        ReportTokens{"ödème", "5µm", "±", "10", "%", "90", "°"});
  CHECK(tokenize_report("Δ “quoted” — end…") ==
        ReportTokens{"δ", "“", "quoted", "”", "—", "end", "…"});
}

TEST_CASE("malformed UTF-8 is rejected with the byte offset") {
  const std::vector<std::string> bad = {"ab\xff", "ab\xe8\xa7", "\xc0\xaf", "x\xed\xa0\x80", "\xf4\x90\x80\x80"};
  const std::vector<std::string> offsets = {"byte 2", "byte 2", "byte 0", "byte 1", "byte 0"};
  for (size_t i = 0; i < bad.size(); ++i) {
    try {
      tokenize_report(bad[i]);
      FAIL("accepted malformed UTF-8 case ", i);
    } catch (const ophtha::Error& error) {
      CHECK(error.code() == ophtha::ErrorCode::InvalidArgument);
      CHECK_MESSAGE(std::string(error.what()).find(offsets[i]) != std::string::npos, error.what());
    }
  }
}

TEST_CASE("tokenize_corpus names the report whose text is malformed and checks the sizes") {
  try {
    ophtha::tokenize_corpus({"ok", "fine"}, {{"ok"}, {"fine", "bad\xff"}});
    FAIL("accepted malformed UTF-8");
  } catch (const ophtha::Error& error) {
    CHECK(std::string(error.what()).find("reference 1 of hypothesis 1") != std::string::npos);
  }
  try {
    ophtha::tokenize_corpus({"ok", "fine"}, {{"ok"}});
    FAIL("accepted 2 hypotheses with 1 reference set");
  } catch (const ophtha::Error& error) {
    CHECK(std::string(error.what()) == "corpus has 2 hypotheses but 1 reference sets");
  }
}
