"""``python -m autograder.judge.review``: the review server (``budget.ReviewServer``)."""

from autograder.judge.review.budget import serve

if __name__ == "__main__":
    serve()
