"""Deterministic, project-made corpus generator for the tokenizer tests and benchmarks.

Produces text that looks enough like a web crawl for BPE to find realistic structure: documents separated by a
special token, in ten languages (English, German, French, Spanish, Russian, Greek, Chinese, Japanese, Arabic,
Hindi), with emoji, numbers, punctuation, code snippets and markdown. Word frequencies follow Zipf's law over
a lexicon made of a few dozen real words per language (the top ranks) and pseudo-words built from the
language's syllables, so subword merges have something to find. Every word list below was written for this
project.

Determinism: the same arguments give the same text on any machine. Sentence pools are built with
`random.Random` seeded by a string (integer operations only); documents are sampled from the pools with the
raw 64-bit output of numpy's PCG64 bit generator and integer arithmetic (no floats, no `hash()`, no set
order). The output for `n_bytes` is a prefix of the output for any larger size, cut at a character boundary
and never inside a special token, so its UTF-8 length is at most `len(special_token) + 3` bytes short of
`n_bytes`.

Left out: linguistic correctness (sentences are word salad with the right scripts, spacing and punctuation).
Serves handout §1.8, §2.5, §2.6 and §7 (project-made corpora); CLI: `python -m assignment1_basics.tests.corpus
OUT --size 100MB --seed 0`.
"""

import argparse
import bisect
import functools
import os
import random
import re

import numpy as np

# --- word lists (written for this project) ------------------------------------------------------------------
# Per language: common words (highest Zipf ranks), syllable parts for pseudo-words ("-" = empty), suffixes,
# word separator, sentence enders (repeats = weights), comma, and whether sentences start with a capital.
_LANG = {
    "en": dict(
        words="the of and to a in is it that was for on are with as he she they at be this have from or one "
        "had by but not what all were we when your can said there an each which do how their if will up "
        "other about out many then them these so some her would make like him into time has look two more "
        "go see no way could people my than first water been who its now find long down day did get come "
        "made may part little story garden river small happy friend house tree bird because always never "
        "together morning evening school teacher children found saw went wanted played decided very big new "
        "old good don't it's I'm we'll they're you've can't he'd",
        onsets="b br c ch cl d dr f fl g gr h j k l m n p pl pr qu r s sh sl st str t th tr v w wh y z",
        nuclei="a e i o u ai ea ee oo ou ie", codas="- - n r s t l m nd st ck ng nt rd",
        suffixes="- - - s ed ing er ly ness tion able ment ful", sep=" ", ends=". . . . . ! ?", comma=",",
        cap=True),
    "de": dict(
        words="der die und in den von zu das mit sich des auf für ist im dem nicht ein eine als auch es an "
        "werden aus er hat dass sie nach wird bei einer um am sind noch wie einem über einen so zum war "
        "haben nur oder aber vor zur bis mehr durch man sein wurde Jahr Zeit Haus Kinder Schule Wasser "
        "Straße groß klein schön heute morgen immer wieder gemeinsam Frühstück Mädchen Bäume Vögel fröhlich "
        "Geschichte Garten Freund",
        onsets="b bl br d f fr g gr h k kl kr l m n p pf r s sch schl schw st str t tr w z",
        nuclei="a e i o u ä ö ü au ei ie eu", codas="- - n r s t l ch ck ng nd st tz rt",
        suffixes="- - en er e ung heit lich keit chen isch", sep=" ", ends=". . . . ! ?", comma=",",
        cap=True),
    "fr": dict(
        words="le la les de des un une et est il elle ils nous vous en dans pour pas que qui sur avec ce "
        "cette au aux du par plus ne se son sa ses mais comme tout très bien être avoir fait été où l'eau "
        "c'est qu'il j'ai aujourd'hui école maison enfant enfants jardin forêt rivière ami amie heureux "
        "hiver français déjà là garçon cœur",
        onsets="b c ch d f g j l m n p pl pr r s t tr v", nuclei="a e i o u é è ê ou oi eau ai au",
        codas="- - - n r s l t x", suffixes="- - s e es ement tion eur euse ité ique", sep=" ",
        ends=". . . . ! ? …", comma=",", cap=True),
    "es": dict(
        words="el la los las de del y en un una que es por con para no se su sus al lo como más pero sí muy "
        "ya también fue ha son está están todo niño niña niños casa escuela agua río árbol pájaro mañana "
        "año años jardín amigo feliz pequeño grande corazón canción después siempre nunca juntos cuándo "
        "dónde qué España",
        onsets="b c ch d f g j l ll m n ñ p r s t v", nuclei="a e i o u á é í ó ú ue ie",
        codas="- - - n s r l",
        suffixes="- - s a o os as ción mente dad ando ido", sep=" ", ends=". . . . ! ?", comma=",", cap=True),
    "ru": dict(
        words="и в не на я что он с как это по к но она они мы вы из у за от так же все был была было быть "
        "для о его её их до вот уже когда только если ещё год время дом школа вода река дерево птица утро "
        "вечер друг подруга маленький большой хороший счастливый сказка сад город мама папа дети история "
        "вместе всегда никогда сегодня завтра",
        onsets="б в г д ж з к л м н п р с т ф х ц ч ш щ бр др кр пр ст тр", nuclei="а е и о у ы я ю э ё",
        codas="- - - н р с т л й к м", suffixes="- - а ы ой ами ого ому ение ость ный ский", sep=" ",
        ends=". . . . ! ?", comma=",", cap=True),
    "el": dict(
        words="και το η ο της του των τα σε με για να που δεν είναι ήταν από στο στη στην οι ένα μια θα αλλά "
        "όταν πολύ σήμερα αύριο σπίτι σχολείο νερό ποτάμι δέντρο πουλί πρωί βράδυ φίλος φίλη μικρός μεγάλος "
        "καλός χαρούμενος ιστορία κήπος πόλη μητέρα πατέρας παιδιά μαζί πάντα ποτέ θάλασσα ήλιος",
        onsets="β γ δ ζ θ κ λ μ ν ξ π ρ σ τ φ χ ψ στ τρ", nuclei="α ε η ι ο υ ω ά έ ή ί ό ύ ώ ου αι ει",
        codas="- - - - ν ρ", suffixes="- ος ης ας ες ια μα ση", sep=" ", ends=". . . . ! ;", comma=",",
        cap=True),
    "zh": dict(
        words="我 你 他 她 我们 他们 的 是 在 有 不 了 和 这 那 一个 人 大 小 好 很 也 都 就 说 要 去 来 看 学校 老师 学生 朋友 今天 明天 时间 问题 中国 北京 上海 "
        "世界 花园 小鸟 河流 大树 早上 晚上 快乐 故事 孩子 妈妈 爸爸 一起 总是 从来 吃饭 喝水 工作 电脑 手机 天气 非常 喜欢",
        onsets="天 地 人 水 火 山 木 金 日 月 心 手 口 目 学 生 文 字 国 家 电 车 门 马 鸟 鱼 花 草 风 雨 雪 云 光 明 东 西 南 北 中 上 下 前 后 开 关 新 "
        "老 高 长 白 红 绿 蓝", nuclei="-", codas="-",
        suffixes="- - - 子 们 的", sep="", ends="。 。 。 。 ！ ？", comma="，", cap=False),
    "ja": dict(
        words="私 あなた 彼 彼女 これ それ あれ の は が を に で と も へ から まで です ます でした ました する した 学校 先生 学生 友達 今日 明日 時間 問題 日本 東京 "
        "世界 庭 小鳥 川 木 朝 夜 楽しい 物語 子供 母 父 一緒に いつも 食べる 飲む 仕事 コンピューター 電話 天気 とても 好き ラーメン コーヒー ありがとう",
        onsets="か き く こ さ し す そ た ち つ と な に の は ひ ふ ま み む も ら り る ろ が ご だ で ば ア イ カ キ ク コ サ シ ス タ テ ト ナ ニ マ "
        "ミ ラ リ ル レ ロ 山 川 田 本 人 手 気", nuclei="- - - ー",
        codas="- - - - ん ン", suffixes="- - - な い る た て", sep="", ends="。 。 。 。 ！ ？", comma="、",
        cap=False),
    "ar": dict(
        words="في من على إلى أن عن مع هذا هذه كان كانت هو هي نحن هم لا ما كل بعد قبل بين حتى الذي التي اليوم "
        "غدا بيت مدرسة ماء نهر شجرة طائر صباح مساء صديق صغير كبير جميل سعيد قصة حديقة مدينة أم أب أطفال معا "
        "دائما أبدا كتاب العالم الشمس البحر",
        onsets="ب ت ث ج ح خ د ذ ر ز س ش ص ض ط ظ ع غ ف ق ك ل م ن ه و ي ال", nuclei="- - ا و ي",
        codas="-", suffixes="- - ة ات ون ين ي", sep=" ", ends=". . . . ! ؟", comma="،", cap=False),
    "hi": dict(
        words="और का की के है में से को यह वह एक पर भी नहीं था थी थे हैं हम तुम आप वे कि जो तो लेकिन बहुत आज "
        "कल घर स्कूल पानी नदी पेड़ चिड़िया सुबह शाम दोस्त छोटा बड़ा अच्छा खुश कहानी बगीचा शहर माँ पिता "
        "बच्चे साथ हमेशा कभी किताब दुनिया सूरज समुद्र भारत",
        onsets="क ख ग घ च छ ज झ ट ड त थ द ध न प फ ब भ म य र ल व श स ह", nuclei="- ा ि ी ु ू े ै ो ौ ं",
        codas="-", suffixes="- - ों ता ती ने ना कर", sep=" ", ends="। । । । ! ?", comma=",", cap=False),
}
_EMOJI = ("😀 😂 🎉 🚀 ❤️ 👍 🌍 🔥 ✨ 🐍 📚 ☕ 🤖 🙏 🌸 🐱 🍕 ⚡ ✅ 👨‍👩‍👧 🇩🇪 🇯🇵 👋🏽 🧑‍💻").split()
_IDENTS = "x y n i j k data items result value total count name path size buf node key acc tmp".split()
_FUNCS = "compute load_data parse_line main helper merge_pairs encode decode train step update".split()
_CODE = [  # code snippet templates; {f} function, {a} {b} {c} identifiers, {n} {m} small integers
    "def {f}({a}, {b}={n}):\n    \"\"\"Return the {a} scaled by {b}.\"\"\"\n"
    "    return [{c} * {b} for {c} in {a}]\n",
    "for {a} in range({n}):\n    if {a} % {m} == 0:\n        print(f\"{{{a}}}: ok\")\n",
    "class {F}:\n    def __init__(self, {a}):\n        self.{a} = {a}\n        self.{b} = {{}}\n",
    "const {a} = await fetch(`/api/v{m}/{b}?limit={n}`);\nconsole.log({a}.status);\n",
    "int {f}(int {a}, int {b}) {{\n    return {a} > {b} ? {a} - {b} : {b} - {a};\n}}\n",
    "$ python -m pip install {f}=={m}.{n}\n$ {f} --{a} {n} --{b}\n",
    "{{\"{a}\": {n}, \"{b}\": [{m}, {n}], \"{c}\": null, \"ok\": true}}\n",
    "if ({a} != NULL && {a}->{b} >= {n}) {{\n    {f}({a});\n}}\n",
    "SELECT {a}, COUNT(*) AS {b} FROM {c} WHERE {a} > {n} GROUP BY {a};\n",
    "    {c} = {f}({a}[{n}:{m}], {b}=True)  # TODO: handle {b}\n",
]
ALL_LANGUAGES = ("en", "de", "fr", "es", "ru", "el", "zh", "ja", "ar", "hi", "emoji", "code", "markdown")
_DOC_WEIGHT = dict(en=30, de=8, fr=8, es=8, ru=6, el=4, zh=6, ja=5, ar=4, hi=4, code=8, markdown=7)
_ITEMS = dict(prose=(3, 40), code=(1, 6), markdown=(2, 12))  # items per document, [lo, hi)
_SEPS = dict(prose=[" "] * 6 + ["\n", "\n\n"], cjk=[""] * 6 + ["\n", "\n\n"],
             code=["\n"] * 6 + ["\n\n"] * 2, markdown=["\n"] * 3 + ["\n\n"] * 5)
_POOL = dict(prose=2000, code=300, markdown=600)  # distinct items per kind and seed
_LEXICON = 3000  # words per language (real words first, then pseudo-words)
_BLOCK_DOCS = 256  # documents per generated block


# --- pools: lexicon and sentences, built with random.Random (integer ops only) ------------------------------


def _parts(s: str) -> list[str]:
    return [p if p != "-" else "" for p in s.split()]


def _zipf_cum(n: int) -> list[int]:
    """Integer cumulative weights of Zipf's law with s = 1: weight(rank r) = 10**9 // (r + 2)."""
    cum, t = [], 0
    for r in range(n):
        t += 10**9 // (r + 2)
        cum.append(t)
    return cum


def _zipf_pick(rng: random.Random, cum: list[int]) -> int:
    return bisect.bisect_right(cum, rng.randrange(cum[-1]))


def _lexicon(lang: str, rng: random.Random) -> list[str]:
    spec = _LANG[lang]
    on, nu, co, su = (_parts(spec[k]) for k in ("onsets", "nuclei", "codas", "suffixes"))
    words = dict.fromkeys(spec["words"].split())  # insertion-ordered de-duplication
    while len(words) < _LEXICON:
        syll = [rng.choice(on) + rng.choice(nu) + rng.choice(co) for _ in range(rng.choice((1, 2, 2, 2, 3)))]
        words["".join(syll) + rng.choice(su)] = None
    return list(words)


def _number(rng: random.Random) -> str:
    kind, n = rng.randrange(7), rng.randrange(1, 10**rng.randrange(1, 7))
    if kind == 0:
        return str(1900 + rng.randrange(130))
    if kind == 1:
        return f"{n}.{rng.randrange(100):02d}"
    if kind == 2:
        return f"{rng.randrange(101)}%"
    if kind == 3:
        return f"{1990 + rng.randrange(40)}-{1 + rng.randrange(12):02d}-{1 + rng.randrange(28):02d}"
    if kind == 4:
        return f"${n:,}"
    return str(n)


def _sentence(lang: str, lex: list[str], cum: list[int], rng: random.Random, emoji: bool) -> str:
    spec = _LANG[lang]
    words = []
    for _ in range(rng.randrange(3, 19)):
        r = rng.randrange(100)
        if r < 4:
            words.append(_number(rng))
        elif r < 6 and emoji:
            words.append(rng.choice(_EMOJI))
        else:
            words.append(lex[_zipf_pick(rng, cum)])
        if rng.randrange(10) == 0:
            words[-1] += spec["comma"]
    if spec["cap"]:
        words[0] = words[0][:1].upper() + words[0][1:]
    text = spec["sep"].join(words).rstrip(spec["comma"]) + rng.choice(spec["ends"].split())
    if rng.randrange(12) == 0:
        text = f"\"{text}\"" if spec["sep"] else f"「{text}」"
    return text


def _code(rng: random.Random) -> str:
    a, b, c = (rng.choice(_IDENTS) for _ in range(3))
    f = rng.choice(_FUNCS)
    snippet = rng.choice(_CODE).format(f=f, F=f.title().replace("_", ""), a=a, b=b, c=c,
                                       n=rng.randrange(1, 1000), m=rng.randrange(2, 10))
    return f"```\n{snippet}```" if rng.randrange(2) else snippet.rstrip("\n")


def _markdown(lex: list[str], cum: list[int], rng: random.Random) -> str:
    def phrase(k):
        return " ".join(lex[_zipf_pick(rng, cum)] for _ in range(k))

    kind = rng.randrange(6)
    if kind == 0:
        return "#" * rng.randrange(1, 4) + " " + phrase(rng.randrange(2, 6)).title()
    if kind == 1:
        bullet = rng.choice(["-", "*", "1."])
        return "\n".join(f"{bullet} {phrase(rng.randrange(1, 6))}" for _ in range(rng.randrange(2, 6)))
    if kind == 2:
        n_rows = rng.randrange(1, 5)
        rows = [f"| {phrase(1)} | {rng.randrange(1000)} | {_number(rng)} |" for _ in range(n_rows)]
        return "| name | count | value |\n|---|---:|---:|\n" + "\n".join(rows)
    if kind == 3:
        w = lex[_zipf_pick(rng, cum)]
        return f"See [{phrase(2)}](https://example.org/{w}/{rng.randrange(100)}) for **{phrase(2)}**."
    if kind == 4:
        return "> " + phrase(rng.randrange(4, 12)) + "."
    return f"Use `{rng.choice(_FUNCS)}()` with *{phrase(2)}* and _{phrase(1)}_."


@functools.lru_cache(maxsize=8)
def _pools(seed: int, languages: tuple[str, ...]):
    """(kinds, items per kind) for a seed: every kind's pool of sentences, snippets or markdown blocks."""
    emoji = "emoji" in languages
    kinds = [k for k in _DOC_WEIGHT if k in languages]
    if not kinds:
        raise ValueError(f"languages must include at least one of {list(_DOC_WEIGHT)}, got {languages}")
    cum = _zipf_cum(_LEXICON)
    pools = []
    for kind in kinds:
        rng = random.Random(f"corpus:{seed}:{kind}")
        if kind == "code":
            pools.append([_code(rng) for _ in range(_POOL["code"])])
        elif kind == "markdown":
            lex = _lexicon("en", random.Random(f"corpus:{seed}:en"))
            pools.append([_markdown(lex, cum, rng) for _ in range(_POOL["markdown"])])
        else:
            lex = _lexicon(kind, rng)
            pools.append([_sentence(kind, lex, cum, rng, emoji) for _ in range(_POOL["prose"])])
    return kinds, pools


# --- documents: vectorised sampling from the pools with PCG64 raw output ------------------------------------


class _Sampler:
    """Turns a seed's pools into an endless stream of text blocks (each `_BLOCK_DOCS` whole documents)."""

    def __init__(self, seed: int, languages: tuple[str, ...], special_token: str):
        kinds, pools = _pools(seed, languages)
        self.bits = np.random.PCG64(seed)
        self.items = np.array([s for p in pools for s in p] + [""], dtype=object)
        sizes = [len(p) for p in pools]
        self.start = np.cumsum([0] + sizes[:-1]).astype(np.uint64)
        self.size = np.array(sizes, dtype=np.uint64)
        self.cum_w = np.cumsum([_DOC_WEIGHT[k] for k in kinds]).astype(np.uint64)
        groups = ["code" if k == "code" else "markdown" if k == "markdown" else "prose" for k in kinds]
        self.lo = np.array([_ITEMS[g][0] for g in groups], dtype=np.uint64)
        self.span = np.array([_ITEMS[g][1] - _ITEMS[g][0] for g in groups], dtype=np.uint64)
        sep_rows = [_SEPS["cjk" if k in ("zh", "ja") else g] for k, g in zip(kinds, groups)]
        self.seps = np.array([s for row in sep_rows for s in row], dtype=object)  # 8 per kind
        s = special_token or "\n\n"
        self.ends = np.array([s, "\n" + s, s + "\n", "\n\n" + s] if special_token else [s], dtype=object)

    def _below(self, bound: np.ndarray, n: int) -> np.ndarray:
        """n integers, the i-th uniform-ish in [0, bound[i]) (modulo of 64 random bits: bias < 2**-50)."""
        return self.bits.random_raw(n) % bound

    def block(self) -> str:
        d = _BLOCK_DOCS
        kind = np.searchsorted(self.cum_w, self._below(self.cum_w[-1:], d), side="right")
        n_items = (self.lo[kind] + self._below(self.span[kind], d)).astype(np.int64)
        item_kind = np.repeat(kind, n_items)
        n = len(item_kind)
        parts = np.empty(2 * n, dtype=object)
        parts[0::2] = self.items[self.start[item_kind] + self._below(self.size[item_kind], n)]
        parts[1::2] = self.seps[item_kind * 8 + self._below(np.uint64(8), n).astype(np.int64)]
        last = np.cumsum(n_items) - 1
        parts[2 * last + 1] = self.ends[self._below(np.uint64(len(self.ends)), d).astype(np.int64)]
        return "".join(parts.tolist())


def _normalise(languages) -> tuple[str, ...]:
    if languages is None:
        return ALL_LANGUAGES
    languages = tuple(languages)
    unknown = [x for x in languages if x not in ALL_LANGUAGES]
    if unknown:
        raise ValueError(f"unknown languages {unknown}; choose from {ALL_LANGUAGES}")
    return tuple(x for x in ALL_LANGUAGES if x in languages)  # canonical order: same text for any order


def _byte_pieces(n_bytes: int, seed: int, special_token: str, languages):
    """Yield UTF-8 pieces whose concatenation is the corpus of n_bytes (for generate and write_corpus)."""
    if n_bytes < 0:
        raise ValueError(f"n_bytes must be >= 0, got {n_bytes}")
    sampler, left = _Sampler(seed, _normalise(languages), special_token), n_bytes
    while left > 0:
        text = sampler.block()
        data = text.encode("utf-8")
        if len(data) <= left:
            left -= len(data)
            yield data
            continue
        cut = left
        while cut > 0 and (data[cut] & 0xC0) == 0x80:  # back off to a character start
            cut -= 1
        chars = len(data[:cut].decode("utf-8"))
        if special_token:  # never cut inside a special token
            i = text.rfind(special_token, max(0, chars - len(special_token) + 1), chars)
            chars = i if i >= 0 else chars
        yield text[:chars].encode("utf-8")
        return


# --- public API ---------------------------------------------------------------------------------------------


def generate(n_bytes: int, seed: int = 0, *, special_token: str = "<|endoftext|>",
             languages: tuple[str, ...] | None = None) -> str:
    """Return a corpus of about `n_bytes` UTF-8 bytes (never more, at most len(special_token) + 3 fewer).

    Documents are separated by `special_token` ("" separates them with a blank line instead). `languages`
    picks from ALL_LANGUAGES (prose languages plus the pseudo-languages "emoji", "code" and "markdown"); None
    means all.
    ("en",) gives English prose with numbers and punctuation only.
    """
    return b"".join(_byte_pieces(n_bytes, seed, special_token, languages)).decode("utf-8")


def write_corpus(path, n_bytes: int, seed: int = 0, **kw) -> int:
    """Write generate(n_bytes, seed, **kw) to `path` piece by piece (bounded memory); return its size."""
    written = 0
    with open(path, "wb") as f:
        special = kw.get("special_token", "<|endoftext|>")
        for data in _byte_pieces(n_bytes, seed, special, kw.get("languages")):
            f.write(data)
            written += len(data)
    return written


def parse_size(text: str) -> int:
    """'130KB' -> 130_000, '100MB' -> 100_000_000, '1GiB' -> 2**30, '5000' -> 5000."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmg]i?)?b?\s*", text, re.IGNORECASE)
    if not m:
        raise ValueError(f"cannot parse size {text!r}; use e.g. 130KB, 100MB, 1GiB")
    unit = (m.group(2) or "").lower()
    scale = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "ki": 2**10, "mi": 2**20, "gi": 2**30}[unit]
    return int(float(m.group(1)) * scale)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="Write a deterministic project-made corpus.")
    ap.add_argument("out", help="output file")
    ap.add_argument("--size", default="1MB", help="e.g. 130KB, 100MB, 1GiB (decimal units unless 'i')")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--special-token", default="<|endoftext|>")
    ap.add_argument("--languages", default=None, help=f"comma-separated subset of {','.join(ALL_LANGUAGES)}")
    args = ap.parse_args(argv)
    langs = tuple(args.languages.split(",")) if args.languages else None
    n = write_corpus(args.out, parse_size(args.size), args.seed, special_token=args.special_token,
                     languages=langs)
    print(f"wrote {n:,} bytes to {os.fspath(args.out)}")


if __name__ == "__main__":
    main()
