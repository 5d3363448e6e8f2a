"""Judging answers with an LLM, as FastChat's `gen_judgment.py` does (see `mtbench-judge`)."""
