"""Figures over generated answers and the voice measure, on fixed texts with values worked by hand.

Does not touch: llama.cpp (see test_evaluation.py), Dagster, the embedding model.
"""

from forge_pipeline.lib.evaluation.figures import (
    Reply,
    distinct_2,
    loop_share,
    looping,
    pii_leaked,
    stop_rate,
    verbatim_run,
)
from forge_pipeline.lib.evaluation.voice import burrows_delta, char_profile_similarity, words


def test_stop_rate_counts_answers_that_ended_by_themselves():
    replies = [Reply("done.", 3, True), Reply("and then and", 96, False), Reply("ok", 2, True)]
    assert stop_rate(replies) == 0.667
    assert stop_rate([]) == 0.0


def test_distinct_2_over_every_word_pair():
    # "the cat sat on the cat": pairs the-cat, cat-sat, sat-on, on-the, the-cat: 4 of 5 distinct.
    assert distinct_2(["The cat sat on the cat"]) == 0.8
    assert distinct_2(["a b", "a b"]) == 0.5
    assert distinct_2(["one"]) == 0.0


def test_a_repeated_four_word_run_is_a_loop():
    assert looping("I went out and I went out and stayed")
    assert not looping("I went out and then I went home")
    assert loop_share(["a b c d a b c d", "a b c d e", "x"]) == 0.333


def test_verbatim_run_is_the_longest_shared_run_anywhere():
    assert verbatim_run([5, 6, 7, 9], [5, 6, 7, 8]) == 3
    assert verbatim_run([1, 6, 7], [5, 6, 7]) == 2  # one token off, then recited
    assert verbatim_run([9, 5, 6, 7, 8], [5, 6, 7, 8]) == 4  # recited one token late
    assert verbatim_run([5, 6], [5, 6, 7, 8]) == 2
    assert verbatim_run([1, 2], [3, 4]) == 0


def test_pii_leaked_names_only_details_that_were_in_the_vault():
    vault = {"ana@example.org", "+44 20 7946 0958"}
    said = ["Write to ana@example.org soon.", "Call me at 555 0100 200."]
    assert pii_leaked(said, vault) == ["ana@example.org"]
    assert pii_leaked(["nothing personal here"], vault) == []


def test_burrows_delta_on_fixed_texts_against_values_worked_by_hand():
    reference = ["I walk, I rest.", "I walk home.", "We rest."]
    # Top 2 words of the reference: i (3), walk (2). Their frequencies across the reference
    # answers: i 1/2, 1/3, 0 (mean 0.2778, sd 0.2079); walk 1/4, 1/3, 0 (mean 0.1944, sd 0.1416).
    # text: i 3/4, walk 1/4; own: i 1/4, walk 2/4. Delta = (0.5/0.2079 + 0.25/0.1416) / 2.
    assert burrows_delta("I I I walk", "walk walk I rest", reference, 2) == 2.085
    assert burrows_delta("walk walk I rest", "walk walk I rest", reference, 2) == 0.0


def test_words_keep_apostrophes_and_drop_digits():
    assert words("I'm out 3 times, don't ask") == ["i'm", "out", "times", "don't", "ask"]


def test_character_profile_similarity_on_fixed_texts():
    # abcd: abc, bcd; abce: abc, bce; one shared 3-gram of two each: 1 / (sqrt 2 * sqrt 2).
    assert char_profile_similarity("abcd", "ABCE") == 0.5
    assert char_profile_similarity("I  walk", "i walk") == 1.0
    assert char_profile_similarity("abc", "xyz") == 0.0
