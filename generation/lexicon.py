"""The words the understanding knows, in English and Chinese, and what each one sets.

Each entry maps a word to its effects: ``valence`` and ``arousal`` (Russell's circumplex,
deltas in [-1, 1]), ``tempo`` (tendency, -1 slow .. 1 fast), ``genre``, ``instrument``
(a General MIDI family name of ``INSTRUMENT_PROGRAMS``), ``place`` and ``ambience``.
Values were chosen by hand from the words' ordinary meaning; degree words scale them and
negations damp or flip them (see :mod:`generation.understand`).
"""

from __future__ import annotations

from types import MappingProxyType

__all__ = [
    "DEGREE_WORDS",
    "INSTRUMENT_PROGRAMS",
    "LEXICON",
    "NEGATION_WORDS",
    "PLACE_AMBIENCE",
    "STOP_WORDS",
    "TEMPO_WORDS",
]

# General MIDI programs (0-based) of the instruments the words can ask for.
INSTRUMENT_PROGRAMS = MappingProxyType(
    {
        "piano": 0,
        "electric_piano": 4,
        "music_box": 10,
        "vibraphone": 11,
        "marimba": 12,
        "organ": 19,
        "accordion": 21,
        "acoustic_guitar": 24,
        "steel_guitar": 25,
        "electric_guitar": 27,
        "bass": 33,
        "violin": 40,
        "cello": 42,
        "harp": 46,
        "strings": 48,
        "choir": 52,
        "trumpet": 56,
        "horn": 60,
        "saxophone": 65,
        "oboe": 68,
        "clarinet": 71,
        "flute": 73,
        "pan_flute": 75,
        "synth_lead": 81,
        "pad": 89,
        "sitar": 104,
        "guzheng": 107,
        "erhu": 110,
        "dizi": 73,
    }
)

_E = dict[str, object]


def _mood(valence: float, arousal: float, tempo: float = 0.0) -> _E:
    return {"valence": valence, "arousal": arousal, "tempo": tempo}


_ENGLISH: dict[str, _E] = {
    # mood and energy
    "happy": _mood(0.7, 0.4, 0.3),
    "cheerful": _mood(0.7, 0.4, 0.3),
    "joyful": _mood(0.8, 0.5, 0.3),
    "bright": _mood(0.5, 0.2),
    "light": _mood(0.4, 0.2, 0.2),
    "lively": _mood(0.5, 0.6, 0.5),
    "playful": _mood(0.6, 0.4, 0.3),
    "fun": _mood(0.6, 0.5, 0.3),
    "upbeat": _mood(0.6, 0.6, 0.5),
    "uplifting": _mood(0.7, 0.4, 0.2),
    "hopeful": _mood(0.5, 0.1),
    "warm": _mood(0.4, -0.1),
    "sweet": _mood(0.5, -0.1),
    "romantic": _mood(0.4, -0.2, -0.2),
    "energetic": _mood(0.3, 0.8, 0.6),
    "exciting": _mood(0.4, 0.8, 0.5),
    "powerful": _mood(0.1, 0.8, 0.2),
    "epic": _mood(0.2, 0.8),
    "intense": _mood(-0.1, 0.8, 0.3),
    "dramatic": _mood(-0.2, 0.6),
    "triumphant": _mood(0.7, 0.7, 0.2),
    "sad": _mood(-0.8, -0.4, -0.4),
    "melancholic": _mood(-0.7, -0.4, -0.4),
    "melancholy": _mood(-0.7, -0.4, -0.4),
    "sorrowful": _mood(-0.8, -0.4, -0.4),
    "mournful": _mood(-0.8, -0.5, -0.5),
    "gloomy": _mood(-0.7, -0.3, -0.3),
    "dark": _mood(-0.6, 0.1),
    "lonely": _mood(-0.6, -0.4, -0.3),
    "nostalgic": _mood(-0.2, -0.3, -0.2),
    "mysterious": _mood(-0.3, 0.0),
    "tense": _mood(-0.5, 0.6, 0.2),
    "angry": _mood(-0.7, 0.8, 0.4),
    "scary": _mood(-0.7, 0.5),
    "calm": _mood(0.3, -0.6, -0.4),
    "peaceful": _mood(0.4, -0.7, -0.4),
    "relaxing": _mood(0.4, -0.6, -0.4),
    "relaxed": _mood(0.4, -0.6, -0.4),
    "gentle": _mood(0.3, -0.5, -0.3),
    "soft": _mood(0.2, -0.5, -0.2),
    "quiet": _mood(0.1, -0.6, -0.3),
    "serene": _mood(0.4, -0.7, -0.4),
    "tranquil": _mood(0.4, -0.7, -0.4),
    "dreamy": _mood(0.3, -0.5, -0.3),
    "elegant": _mood(0.4, -0.2, -0.1),
    "graceful": _mood(0.4, -0.3, -0.1),
    "solemn": _mood(-0.3, -0.4, -0.4),
    "majestic": _mood(0.4, 0.3, -0.2),
    "grand": _mood(0.3, 0.3, -0.1),
    # tempo
    "slow": _mood(0.0, -0.3, -0.8),
    "slowly": _mood(0.0, -0.3, -0.8),
    "fast": _mood(0.0, 0.4, 0.8),
    "quick": _mood(0.0, 0.4, 0.7),
    "rapid": _mood(0.0, 0.5, 0.8),
    "brisk": _mood(0.2, 0.4, 0.6),
    "leisurely": _mood(0.3, -0.4, -0.5),
    # genre
    "pop": {"genre": "pop", "arousal": 0.2},
    "folk": {"genre": "folk"},
    "ambient": {"genre": "ambient", "arousal": -0.4, "tempo": -0.3},
    "classical": {"genre": "classical"},
    "dance": {"genre": "dance", "arousal": 0.6, "tempo": 0.6, "valence": 0.3},
    "electronic": {"genre": "dance", "arousal": 0.4},
    "edm": {"genre": "dance", "arousal": 0.7, "tempo": 0.6},
    "disco": {"genre": "dance", "arousal": 0.6, "tempo": 0.5, "valence": 0.4},
    "lullaby": {"genre": "ambient", "arousal": -0.7, "tempo": -0.6, "valence": 0.3},
    "waltz": {"genre": "classical", "meter": (3, 4)},
    "chinese": {"genre": "chinese"},
    # instruments
    "piano": {"instrument": "piano"},
    "guitar": {"instrument": "acoustic_guitar"},
    "guitars": {"instrument": "acoustic_guitar"},
    "violin": {"instrument": "violin"},
    "cello": {"instrument": "cello"},
    "strings": {"instrument": "strings"},
    "flute": {"instrument": "flute"},
    "harp": {"instrument": "harp"},
    "organ": {"instrument": "organ"},
    "saxophone": {"instrument": "saxophone"},
    "sax": {"instrument": "saxophone"},
    "trumpet": {"instrument": "trumpet"},
    "clarinet": {"instrument": "clarinet"},
    "synth": {"instrument": "synth_lead"},
    "marimba": {"instrument": "marimba"},
    "guzheng": {"instrument": "guzheng", "genre": "chinese"},
    "erhu": {"instrument": "erhu", "genre": "chinese"},
    "drums": {"drums": True, "arousal": 0.2},
    "beat": {"drums": True, "arousal": 0.2},
    "rhythm": {"drums": True, "arousal": 0.2},
    # places
    "beach": {"place": "beach"},
    "seaside": {"place": "beach"},
    "sea": {"place": "beach", "ambience": "sea"},
    "ocean": {"place": "beach", "ambience": "sea"},
    "museum": {"place": "museum"},
    "gallery": {"place": "museum"},
    "hall": {"place": "hall"},
    "church": {"place": "church"},
    "cathedral": {"place": "church"},
    "forest": {"place": "forest"},
    "park": {"place": "park"},
    "garden": {"place": "park"},
    "city": {"place": "city"},
    "street": {"place": "city"},
    "cafe": {"place": "cafe"},
    "temple": {"place": "temple"},
    # ambiences
    "waves": {"ambience": "sea"},
    "wave": {"ambience": "sea"},
    "wind": {"ambience": "wind"},
    "rain": {"ambience": "rain"},
}

_CHINESE: dict[str, _E] = {
    # mood and energy
    "轻快": _mood(0.6, 0.5, 0.5),
    "欢快": _mood(0.8, 0.6, 0.5),
    "快乐": _mood(0.8, 0.4, 0.3),
    "开心": _mood(0.8, 0.4, 0.3),
    "愉快": _mood(0.7, 0.3, 0.3),
    "高兴": _mood(0.7, 0.4, 0.3),
    "明亮": _mood(0.5, 0.2),
    "活泼": _mood(0.6, 0.6, 0.5),
    "热情": _mood(0.5, 0.7, 0.4),
    "温暖": _mood(0.4, -0.1),
    "甜美": _mood(0.5, -0.1),
    "浪漫": _mood(0.4, -0.2, -0.2),
    "激昂": _mood(0.3, 0.8, 0.4),
    "激动": _mood(0.3, 0.8, 0.4),
    "动感": _mood(0.3, 0.7, 0.5),
    "振奋": _mood(0.6, 0.7, 0.3),
    "雄壮": _mood(0.3, 0.8),
    "忧伤": _mood(-0.8, -0.4, -0.4),
    "悲伤": _mood(-0.8, -0.4, -0.4),
    "伤心": _mood(-0.8, -0.3, -0.4),
    "难过": _mood(-0.7, -0.3, -0.3),
    "哀伤": _mood(-0.8, -0.5, -0.5),
    "忧郁": _mood(-0.7, -0.4, -0.4),
    "孤独": _mood(-0.6, -0.4, -0.3),
    "怀旧": _mood(-0.2, -0.3, -0.2),
    "神秘": _mood(-0.3, 0.0),
    "紧张": _mood(-0.5, 0.6, 0.2),
    "黑暗": _mood(-0.6, 0.1),
    "平静": _mood(0.3, -0.6, -0.4),
    "宁静": _mood(0.4, -0.7, -0.4),
    "安静": _mood(0.2, -0.6, -0.3),
    "放松": _mood(0.4, -0.6, -0.4),
    "轻柔": _mood(0.3, -0.5, -0.3),
    "柔和": _mood(0.3, -0.5, -0.3),
    "温柔": _mood(0.4, -0.5, -0.3),
    "舒缓": _mood(0.3, -0.6, -0.5),
    "梦幻": _mood(0.3, -0.5, -0.3),
    "优雅": _mood(0.4, -0.2, -0.1),
    "庄严": _mood(-0.1, -0.3, -0.4),
    "宏伟": _mood(0.3, 0.4, -0.1),
    # tempo
    "缓慢": _mood(0.0, -0.3, -0.8),
    "慢": _mood(0.0, -0.3, -0.7),
    "快": _mood(0.0, 0.4, 0.7),
    "快速": _mood(0.0, 0.5, 0.8),
    "太快": _mood(0.0, 0.5, 0.9),
    "太慢": _mood(0.0, -0.4, -0.9),
    "快节奏": _mood(0.1, 0.6, 0.8),
    # genre
    "流行": {"genre": "pop", "arousal": 0.2},
    "民谣": {"genre": "folk"},
    "古典": {"genre": "classical"},
    "舞曲": {"genre": "dance", "arousal": 0.6, "tempo": 0.6, "valence": 0.3},
    "电子": {"genre": "dance", "arousal": 0.4},
    "摇篮曲": {"genre": "ambient", "arousal": -0.7, "tempo": -0.6, "valence": 0.3},
    "圆舞曲": {"genre": "classical", "meter": (3, 4)},
    "华尔兹": {"genre": "classical", "meter": (3, 4)},
    "中国风": {"genre": "chinese"},
    "国风": {"genre": "chinese"},
    "氛围": {"genre": "ambient", "arousal": -0.3},
    # instruments
    "钢琴": {"instrument": "piano"},
    "吉他": {"instrument": "acoustic_guitar"},
    "小提琴": {"instrument": "violin"},
    "大提琴": {"instrument": "cello"},
    "弦乐": {"instrument": "strings"},
    "长笛": {"instrument": "flute"},
    "笛子": {"instrument": "dizi", "genre": "chinese"},
    "竖琴": {"instrument": "harp"},
    "古筝": {"instrument": "guzheng", "genre": "chinese"},
    "二胡": {"instrument": "erhu", "genre": "chinese"},
    "萨克斯": {"instrument": "saxophone"},
    "鼓": {"drums": True, "arousal": 0.2},
    "节奏": {"drums": True, "arousal": 0.1},
    # places
    "海滩": {"place": "beach"},
    "沙滩": {"place": "beach"},
    "海边": {"place": "beach"},
    "大海": {"place": "beach", "ambience": "sea"},
    "博物馆": {"place": "museum"},
    "美术馆": {"place": "museum"},
    "大厅": {"place": "hall"},
    "教堂": {"place": "church"},
    "森林": {"place": "forest"},
    "公园": {"place": "park"},
    "花园": {"place": "park"},
    "城市": {"place": "city"},
    "街道": {"place": "city"},
    "咖啡馆": {"place": "cafe"},
    "寺庙": {"place": "temple"},
    # ambiences
    "海浪": {"ambience": "sea"},
    "海浪声": {"ambience": "sea"},
    "浪花": {"ambience": "sea"},
    "风声": {"ambience": "wind"},
    "雨声": {"ambience": "rain"},
}

#: Every known word (lower-case English, Simplified Chinese) -> its effects.
LEXICON = MappingProxyType({**_ENGLISH, **_CHINESE})

#: Words that scale the next word's effect.
DEGREE_WORDS = MappingProxyType(
    {
        "very": 1.5,
        "really": 1.4,
        "extremely": 1.8,
        "super": 1.6,
        "so": 1.3,
        "quite": 1.2,
        "slightly": 0.5,
        "somewhat": 0.6,
        "bit": 0.5,
        "little": 0.5,
        "非常": 1.5,
        "很": 1.4,
        "特别": 1.6,
        "超级": 1.7,
        "十分": 1.5,
        "有点": 0.5,
        "有些": 0.6,
        "稍微": 0.5,
        "略": 0.5,
        "太": 1.3,
        "too": 1.3,
        "一点": 0.5,
    }
)

#: Words that negate the next content word: "not too fast" leans slow without becoming
#: "slow", so a negated effect is flipped and damped (see understand._NEGATION_FACTOR).
NEGATION_WORDS = frozenset(
    {"not", "no", "don't", "dont", "never", "without", "不", "不要", "别", "没有", "不太", "不用"}
)

#: Function words that are neither known nor worth reporting as unknown.
STOP_WORDS = frozenset(
    """a an the and or but of for to in on at by with from into onto by as is are be
    play plays playing make give me us please some something piece pieces music song songs
    tune track that this it its i we you want would like let's lets can could should
    feel feeling kind sort style one more bpm major minor time
    的 了 在 一首 首 一 个 一个 播放 放 音乐 歌 歌曲 曲子 曲 请 我 我们 想 想要 听 给 来 点 些 和 与
    上 里 中 着 地 得 吧 呢 啊 声 一段 段 风格 感觉 的话 帮 为 用 弹奏 演奏 下 调
    每分钟 拍""".split()
)

#: Words about tempo itself (not moods that lean fast or slow): they win over the place.
TEMPO_WORDS = frozenset(
    {
        "slow",
        "slowly",
        "fast",
        "quick",
        "rapid",
        "brisk",
        "leisurely",
        "缓慢",
        "慢",
        "快",
        "快速",
        "快节奏",
        "太快",
        "太慢",
        "轻快",
    }
)

#: Ambience each place brings by itself.
PLACE_AMBIENCE = MappingProxyType({"beach": "sea"})
