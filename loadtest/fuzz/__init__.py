"""Coverage-guided fuzzing (atheris) of every parser that reads outside input.

``python -m loadtest.fuzz [--seconds 600] [--only show,vote,...]`` fuzzes each target in its
own process (libFuzzer via atheris) and grows ``loadtest/fuzz/corpus/<target>/``, which is
kept in the repository; ``make test`` replays that corpus and runs each target briefly.
"""
