"""grade: check each submission, hand it to a worker, judge, score and record, in that order."""
