from fractions import Fraction

import pytest

from tunegen.runtime.abc import AbcSyntaxError, BarGuide, bar_stats, bar_units, split_bars, split_header


@pytest.mark.parametrize("text, units", [
    ("ABcd", 4), ("A2B", 3), ("A/B/c", 2), ("A3/2B/", 2), ("(3abc d", 3), ("A>B c<d", 4),
    ("[ceg]2 z", 3), ("^F_B=c'", 3), ("A-A", 2), ("A//", Fraction(1, 4)),
])
def test_bar_units_counts_note_lengths(text, units):
    assert bar_units(text, strict=True) == units


@pytest.mark.parametrize("text", ["A 2", ">B", "[ce", "A$", "A22222", "(9abc"])
def test_bar_units_strict_refuses_what_it_cannot_read(text):
    with pytest.raises(AbcSyntaxError):
        bar_units(text, strict=True)


def test_bar_stats_counts_pickups_and_split_repeat_bars_as_whole():
    fields = {"M": "6/8", "L": "1/8"}
    # pickup A, then full bars; the part ends short (BcA d2 = 5 units) and the next part's pickup A completes it
    body = "A|dAF DFA|dAF d2A|BcA d2:|A|fed fed|fed d2A|dAF d2|]"
    stats = bar_stats(fields, body)
    assert stats.inner == 5  # bar 5 (d2) + bar 6 (A) count once
    assert stats.full == 5
    assert bar_stats(fields, "A|dAF DF|dAF DFA|dAF DFA|]").full == 1


def test_split_header_and_bars():
    fields, body = split_header("R:jig\nM:6/8\nL:1/8\nK:D\nA|dAF:|")
    assert fields == {"R": "jig", "M": "6/8", "L": "1/8", "K": "D"}
    assert split_bars(body) == [("A", "|"), ("dAF", ":|"), ("", "")]


def test_guide_allows_barline_only_on_a_full_bar():
    g = BarGuide()
    g.push("M:4/4\nL:1/8\nK:D\n")
    assert g.in_body
    g.push("A2|")  # a pickup may be short
    g.push("dAFA d2")
    assert not g.allows("|")  # 6 of 8 units
    assert g.allows("B")
    g.push("f3")  # overflows unless halved: only a length may follow
    assert not g.allows(" ") and not g.allows("|") and not g.allows("g")
    assert g.allows("/")
    g.push("/2e/")
    assert g.allows("|")
    assert not g.allows("g")  # the bar is full: no note may overflow it
    assert g.allows(" ")


def test_guide_lets_a_repeat_end_short_when_the_next_bar_completes_it():
    g = BarGuide()
    g.push("M:6/8\nL:1/8\nK:D\nA|dAF DFA|dAF d2")
    assert g.allows(":")  # 5 of 6 units, ending a part
    assert not g.allows("|")
    g.push(":|")
    g.push("A")
    assert g.allows("|")  # 1 unit completes the split bar
    g.push("|dAF")
    assert not g.allows("|")


def test_guide_forces_primer_fields_and_keeps_header_order():
    g = BarGuide(fixed={"K": "Dmix", "M": "6/8"})
    assert g.forced() == ""  # R or M may come first
    assert g.allows("R") and g.allows("M") and not g.allows("K")
    assert g.expand("M") == "M:6/8\n"
    g.push("M:6/8\n")
    assert g.forced() == "L:"  # L is required next
    g.push("L:")
    assert g.allows("1") and not g.allows("x")
    g.push("1/8")
    assert g.allows("\n")
    g.push("\n")
    assert g.forced() == "K:Dmix\n"


def test_guide_refuses_unknown_header_values():
    g = BarGuide()
    g.push("M:")
    assert g.allows("6") and not g.allows("q")
    g.push("6/")
    assert not g.allows("\n")  # 6/ is no meter
    g.push("8")
    assert g.allows("\n")


def test_guide_scans_a_growing_bar_as_a_whole_scan_would():
    """The guide reads a bar on from its last token, not from the start: the same verdicts and
    lengths as scanning the whole bar, on random text of ABC's characters."""
    import random

    from tunegen.runtime.abc import AbcSyntaxError, BarGuide, bar_units

    def whole(text, partial):
        try:
            return bar_units(text, strict=True, partial=partial)
        except AbcSyntaxError:
            return "error"

    alphabet = list("ABCDEFGabcdefgzx^_=',/23468[]()<>- ")
    rnd, checked = random.Random(7), 0
    for _ in range(300):
        guide = BarGuide()
        guide.in_body, guide.bars, guide.bar_len, guide.target = True, 1, 8, 8
        for _ in range(rnd.randint(1, 25)):
            for ch in alphabet:
                for partial, text in ((True, guide.bar_text + ch), (False, guide.bar_text)):
                    try:
                        got = guide._units(text, partial)
                    except AbcSyntaxError:
                        got = "error"
                    assert got == whole(text, partial), (text, partial)
                    checked += 1
            guide.bar_text += rnd.choice(alphabet)
    assert checked > 100_000
