"""A short tracking example: train a classifier on scikit-learn's digits over three seeds."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

import labline

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
ids = np.arange(len(y_test))

for seed in range(3):
    with labline.start_run("digits", params={"model": "logreg", "C": 0.1, "seed": seed}) as run:
        run.log_dataset("train", X_train)
        run.log_dataset("test", X_test)
        model = LogisticRegression(C=0.1, max_iter=200, random_state=seed).fit(X_train, y_train)
        for step, frac in enumerate(np.linspace(0.2, 1.0, 5)):
            run.log_metric("train_size_fraction", float(frac), step=step)
        proba = model.predict_proba(X_test)
        run.log_predictions("test", ids, y_test, proba.argmax(1), proba, classes=model.classes_)
        run.log_metric("accuracy", float((proba.argmax(1) == y_test).mean()))
    print(f"run {run.id} seed={seed} accuracy={run.info.metrics['accuracy'].last_value:.4f}")

print("\nNext: `labline runs list --experiment digits` and `labline runs show <run id>`")
