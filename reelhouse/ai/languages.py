"""The languages multilingual Whisper models recognise, by the codes Whisper spells them with.

A copy of faster-whisper's `tokenizer._LANGUAGE_CODES`, so that the request handlers' language check does
not import faster-whisper (and with it CTranslate2 and numpy); a test keeps the two equal.
"""

CODES = frozenset(
    {
        "af", "am", "ar", "as", "az", "ba", "be", "bg", "bn", "bo", "br", "bs", "ca", "cs", "cy", "da", "de", "el", "en",
        "es", "et", "eu", "fa", "fi", "fo", "fr", "gl", "gu", "ha", "haw", "he", "hi", "hr", "ht", "hu", "hy", "id", "is",
        "it", "ja", "jw", "ka", "kk", "km", "kn", "ko", "la", "lb", "ln", "lo", "lt", "lv", "mg", "mi", "mk", "ml", "mn",
        "mr", "ms", "mt", "my", "ne", "nl", "nn", "no", "oc", "pa", "pl", "ps", "pt", "ro", "ru", "sa", "sd", "si", "sk",
        "sl", "sn", "so", "sq", "sr", "su", "sv", "sw", "ta", "te", "tg", "th", "tk", "tl", "tr", "tt", "uk", "ur", "uz",
        "vi", "yi", "yo", "zh", "yue",
    }
)


def name(code: str) -> str:
    """The English name of a language by its Whisper code (`it`: Italian), for a track whose language was detected."""
    import pycountry  # sumy's dependency; here so the request handlers never load its data

    code = {"jw": "jv"}.get(code, code)  # Whisper's old code for Javanese
    language = pycountry.languages.get(alpha_2=code) or pycountry.languages.get(alpha_3=code)
    return language.name if language is not None else code
