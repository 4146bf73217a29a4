#!/usr/bin/python3
"""Writes tests/golden/tokenizer_cases.jsonl: test strings and the ids SentencePiece gives them.

Deterministic (fixed seed, no clock, no environment): running it again gives the same file. Needs the
sentencepiece Python package (Debian: python3-sentencepiece, run with /usr/bin/python3).

    /usr/bin/python3 tests/tools/tokenizer_cases.py [--model tests/data/llama2-tokenizer.model]
                                                    [--out tests/golden/tokenizer_cases.jsonl]
                                                    [--seed 20240611]

The committed golden uses the default seed; other seeds give fresh cases of the same kinds (see
tests/conformance/test_tokenizer_vs_sentencepiece.sh).

One JSON object per line:
    {"text": str, "ids": [int]}            ids = EncodeAsIds(text), no BOS
    {"text_hex": str, "ids": [int]}        for byte strings that are not valid UTF-8
    "decoded": str                         added when DecodeIds(ids) differs from the text
    {"ids": [int], "decoded": str}         decode-only cases: random id lists heavy in byte tokens,
                                           decoded = DecodeIds(ids)
    "model_suffix_hex": str                added for cases of a variant model: these bytes appended
                                           to the .model (protobuf merges them: extra pieces, changed
                                           normalizer_spec), to cover what LLaMA 2 itself does not use
About half the strings are Chinese or mixed Chinese/other text, as the clinics' reports are.
"""
import argparse
import json
import os
import random
import struct

import sentencepiece

SEED = 20240611
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

ENGLISH_WORDS = """the patient presents with blurred vision in the right eye for two weeks fundus examination
shows diabetic retinopathy macular edema optic disc cup disc ratio intraocular pressure was measured at mmHg
visual acuity improved after anti VEGF injection glaucoma cataract retina choroid vitreous hemorrhage
microaneurysms hard exudates cotton wool spots neovascularization OCT angiography follow up in months
recommend laser photocoagulation no significant change compared with previous visit bilateral mild
moderate severe proliferative non-proliferative retinal detachment myopia hyperopia astigmatism dry eye
tear film break-up time Meibomian gland dysfunction keratitis uveitis drusen geographic atrophy""".split()

CHINESE_TERMS = """视网膜 黄斑水肿 杯盘比 眼底 青光眼 白内障 糖尿病视网膜病变 视盘 眼压 视力 玻璃体积血 脉络膜新生血管
角膜 晶状体 黄斑裂孔 视网膜脱离 荧光素眼底血管造影 光学相干断层扫描 右眼 左眼 双眼 病灶 渗出 出血 微动脉瘤
棉絮斑 硬性渗出 新生血管 视神经 睑板腺功能障碍 干眼 泪膜破裂时间 患者 主诉 视物模糊 两周 检查 提示 建议
随访 激光光凝 抗血管内皮生长因子 注射 治疗后 较前 无明显变化 轻度 中度 重度 增殖期 非增殖期 高度近视 散光
葡萄膜炎 角膜炎 玻璃膜疣 地图样萎缩 视野缺损 眼轴长度 屈光度 前房 虹膜 瞳孔 对光反射 灵敏 诊断 印象""".split()

CHINESE_PUNCTUATION = list("，。：；、！？（）《》“”—…")
RARE_CJK = list("龘鱻齉㐀㒨䶵𠀀𠁆𪚥𫠠𬺰𰻞麤靐")
EMOJI = ["😀", "👍", "👍🏽", "👨‍👩‍👧‍👦", "🇨🇳", "🇺🇸", "❤️", "1️⃣", "👁️", "🩺", "🧑🏻‍⚕️", "🏳️‍🌈", "😵‍💫"]
OTHER_SCRIPTS = ["Сетчатка глаза", "αμφιβληστροειδής", "شبكية العين", "रेटिना", "網膜", "もうまく", "망막",
                 "จอประสาทตา", "Netzhaut Ödem", "rétine œdème", "ﬁ ﬂ", "Ⅻ ①②", "ａｂｃ１２３"]
WHITESPACE = [" ", "  ", "   ", "\t", "\n", "\r\n", "\n\n", " \t ", "\u3000", "\u00a0", "\u2009", "\u200b"]
SPECIAL = ["<s>", "</s>", "<unk>", "<0x0A>", "▁", "▁▁", "\ufffd", "\x00", "\x7f", "\x1b[0m", "\u2581text"]

FIXED = [
    "", " ", "  ", "   ", "\t", "\n", " \n ", "a", " a", "a ", "  a  ", "Hello world", "Hello  world",
    "视网膜", " 视网膜", "视网膜 ", "黄斑水肿", "杯盘比 0.6", "杯盘比0.6，眼压 21 mmHg。", "右眼视力 0.8，左眼 0.5",
    "OCT 提示黄斑水肿 (CME)", "糖尿病视网膜病变（增殖期）", "龘", "𠀀", "𠀀𠀀 龘", "👨‍👩‍👧‍👦", "🇨🇳🇺🇸", "1️⃣2️⃣",
    "<s>", "</s> <s>", "<unk>", "<0x0A>", "▁", "▁▁▁", "\ufffd", "a\x00b", "\r\n", "\t\tindent", "tab\there",
    "line1\nline2\n\nline4", "12345678901234567890", "3.14159 2.71828", "1,000,000", "１２３", "٣٤٥",
    "e\u0301", "\u200d", "\U0010fffd", "\U000e0001", "ℹ︎", "x" * 300, "视" * 200, " " * 50, "\n" * 20,
]

INVALID_UTF8 = [
    b"\xff", b"\x80", b"\xc0\x80", b"\xe4\xb8", b"ab\xffc\xe4\xb8", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
    b"\xf8\x88\x80\x80\x80", b"\xe8\xa7\x86\xe7\xbd", b"\xef\xbf\xbd\xff", b" \xc3", b"\xc3 ", b"\xe0\x80\xaf",
    b"\xf0\x9f\x98", b"\xf0\x9f\x98\x80\x80", b"\xc2\xc2\xa9",
]


# Appended to the model for the variant cases (ModelProto fields, sentencepiece_model.proto).
USER_DEFINED = ["杯盘比", "<eye>", "OCT-A", "视网膜", "mmHg"]
UNUSED = ["▁retinopathy", "▁macular", "黄斑", "视网", "ation▁", "▁the▁", "▁diab", "glauc"]
VARIANT_TEXTS = ["杯盘比 0.6", "<eye>OCT-A<eye>", "视网膜视网膜 视网", " <eye> ", "黄斑水肿", "杯盘比杯盘比比",
                 "diabetic retinopathy and macular edema", "the the the", "creation of the nation", "OCT-AOCT-A",
                 "IOP 21 mmHg", "glaucoma glaucous", "▁retinopathy", "<eye", "eye>", "视网膜脱离"]


def varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def length_delimited(field, payload):
    return varint(field << 3 | 2) + varint(len(payload)) + payload


def piece_message(piece, score, piece_type):
    return length_delimited(1, length_delimited(1, piece.encode()) + varint(2 << 3 | 5) + struct.pack("<f", score) +
                            varint(3 << 3) + varint(piece_type))


def model_variants(sp):
    """(name, suffix bytes) of each variant model; the pieces added must be new to the vocabulary."""
    new = [p for p in USER_DEFINED + UNUSED if sp.piece_to_id(p) == sp.unk_id()]
    assert new == USER_DEFINED + UNUSED, f"already in the vocabulary: {set(USER_DEFINED + UNUSED) - set(new)}"
    extra_pieces = b"".join(piece_message(p, 0.0, 4) for p in USER_DEFINED)
    extra_pieces += b"".join(piece_message(p, 5.0 - i, 5) for i, p in enumerate(UNUSED))
    no_dummy_prefix = length_delimited(3, varint(3 << 3) + varint(0))
    return [extra_pieces, no_dummy_prefix]


def english_sentence(rng):
    words = [rng.choice(ENGLISH_WORDS) for _ in range(rng.randint(1, 18))]
    if rng.random() < 0.3:
        words.insert(rng.randrange(len(words) + 1), f"{rng.randint(0, 40)}.{rng.randint(0, 99)}")
    text = " ".join(words)
    if rng.random() < 0.5:
        text = text[0].upper() + text[1:] + rng.choice([".", ",", "!", "?", ";", ":"])
    return text


def chinese_sentence(rng):
    parts = []
    for _ in range(rng.randint(1, 10)):
        parts.append(rng.choice(CHINESE_TERMS))
        roll = rng.random()
        if roll < 0.25:
            parts.append(rng.choice(CHINESE_PUNCTUATION))
        elif roll < 0.4:
            parts.append(rng.choice(["", " "]) + f"{rng.randint(0, 30)}.{rng.randint(0, 9)}" + rng.choice(["", " "]))
        elif roll < 0.45:
            parts.append(rng.choice(RARE_CJK))
    return "".join(parts)


def mixed_sentence(rng):
    pieces = []
    for _ in range(rng.randint(2, 12)):
        roll = rng.random()
        if roll < 0.35:
            pieces.append(rng.choice(CHINESE_TERMS))
        elif roll < 0.55:
            pieces.append(rng.choice(ENGLISH_WORDS))
        elif roll < 0.65:
            pieces.append(str(rng.randint(0, 10 ** rng.randint(1, 8))))
        elif roll < 0.72:
            pieces.append(rng.choice(EMOJI))
        elif roll < 0.78:
            pieces.append(rng.choice(RARE_CJK))
        elif roll < 0.84:
            pieces.append(rng.choice(OTHER_SCRIPTS))
        elif roll < 0.9:
            pieces.append(rng.choice(CHINESE_PUNCTUATION))
        else:
            pieces.append(rng.choice(SPECIAL))
        pieces.append(rng.choice(["", "", " ", " ", "  ", "\n", "\t"]))
    return "".join(pieces)


def other_script_sentence(rng):
    pool = OTHER_SCRIPTS + EMOJI + RARE_CJK + SPECIAL + ENGLISH_WORDS[:20]
    return rng.choice(["", " "]).join(rng.choice(pool) for _ in range(rng.randint(1, 6)))


def whitespace_sentence(rng):
    core = rng.choice([english_sentence, chinese_sentence, mixed_sentence])(rng)
    words = core.split(" ")
    text = "".join(w + rng.choice(WHITESPACE) for w in words)
    return rng.choice(WHITESPACE) * rng.randint(0, 3) + text + rng.choice(WHITESPACE) * rng.randint(0, 3)


def random_codepoints(rng):
    ranges = [(0x20, 0x7E), (0x00, 0x1F), (0xA0, 0x24F), (0x370, 0x6FF), (0x900, 0xDFF), (0x3000, 0x30FF),
              (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xAC00, 0xD7A3), (0xE000, 0xF8FF), (0xFE00, 0xFFFD),
              (0x1F300, 0x1FAFF), (0x20000, 0x2FA1F), (0xE0000, 0xE01EF), (0xF0000, 0x10FFFF)]
    out = []
    for _ in range(rng.randint(1, 24)):
        lo, hi = rng.choice(ranges)
        out.append(chr(rng.randint(lo, hi)))
    return "".join(out)


def random_invalid_bytes(rng):
    valid = rng.choice([english_sentence, chinese_sentence])(rng).encode()
    data = bytearray(valid)
    for _ in range(rng.randint(1, 4)):
        position = rng.randint(0, len(data))
        data[position:position] = bytes([rng.randint(0x80, 0xFF) for _ in range(rng.randint(1, 3))])
    if rng.random() < 0.3 and len(data) > 2:
        del data[rng.randrange(len(data))]
    return bytes(data)


def random_decode_id(rng, n_vocab):
    """Mostly byte tokens (<0xNN> is id 3 + NN) of lead, trail and never-valid bytes; some others."""
    roll = rng.random()
    if roll < 0.6:
        return 3 + rng.choice([0xE8, 0xA7, 0x86, 0xF0, 0x9F, 0x91, 0x81, 0xC3, 0xA9, 0xED, 0xA0, 0xF4, 0x90,
                               0xC0, 0xFF, 0x41, 0x0A, 0xE0, 0x80, 0xBF, 0x20])
    if roll < 0.7:
        return rng.randrange(3)
    if roll < 0.8:
        return rng.choice([29871, 259, 268])  # "▁", "▁▁", "▁▁▁▁"
    return rng.randrange(n_vocab)


def make_cases(rng):
    texts = list(FIXED)
    generators = [(english_sentence, 350), (chinese_sentence, 700), (mixed_sentence, 550),
                  (other_script_sentence, 200), (whitespace_sentence, 250), (random_codepoints, 200)]
    for generate, count in generators:
        texts += [generate(rng) for _ in range(count)]
    texts.append("\n".join(mixed_sentence(rng) for _ in range(80)))
    texts.append(" ".join(chinese_sentence(rng) for _ in range(80)))
    blobs = list(INVALID_UTF8) + [random_invalid_bytes(rng) for _ in range(80)]
    return texts, blobs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=os.path.join(ROOT, "tests/data/llama2-tokenizer.model"))
    parser.add_argument("--out", default=os.path.join(ROOT, "tests/golden/tokenizer_cases.jsonl"))
    parser.add_argument("--seed", type=int, default=SEED, help="the committed golden uses the default")
    args = parser.parse_args()
    sp = sentencepiece.SentencePieceProcessor(model_file=args.model)
    texts, blobs = make_cases(random.Random(args.seed))
    lines, seen = [], set()
    for item in texts + blobs:
        if item in seen:
            continue
        seen.add(item)
        ids = sp.encode(item)
        record = {"text": item} if isinstance(item, str) else {"text_hex": item.hex()}
        record["ids"] = ids
        decoded = sp.decode(ids)
        if decoded != item:
            record["decoded"] = decoded
        lines.append(json.dumps(record, ensure_ascii=False))
    decode_rng = random.Random(args.seed + 2)
    for _ in range(400):
        ids = [random_decode_id(decode_rng, sp.vocab_size()) for _ in range(decode_rng.randint(1, 24))]
        lines.append(json.dumps({"ids": ids, "decoded": sp.decode(ids)}, ensure_ascii=False))
    model_bytes = open(args.model, "rb").read()
    variant_rng = random.Random(args.seed + 1)
    for suffix in model_variants(sp):
        variant = sentencepiece.SentencePieceProcessor(model_proto=model_bytes + suffix)
        for text in VARIANT_TEXTS + variant_rng.sample(texts, 150):
            ids = variant.encode(text)
            record = {"model_suffix_hex": suffix.hex(), "text": text, "ids": ids}
            decoded = variant.decode(ids)
            if decoded != text:
                record["decoded"] = decoded
            lines.append(json.dumps(record, ensure_ascii=False))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8", newline="\n") as out:
        out.write("\n".join(lines) + "\n")
    print(f"{args.out}: {len(lines)} cases ({len(blobs)} byte strings, 400 decode-only, "
          f"{len(lines) - len(seen) - 400} on variant models)")


if __name__ == "__main__":
    main()
