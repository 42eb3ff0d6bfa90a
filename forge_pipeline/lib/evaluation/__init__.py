"""Answers of each model judged: stopping, loops, verbatim recall of training notes, PII."""
