"""YOUR tests: what your data and model must satisfy, in your domain's words.

The other files in tests/project/ derive their cases from params.yaml and the expectation
suite, so they hold for any dataset. Here you state what only you know, for example that
a larger value of some feature must not lower the predicted probability of some class
(a directional test), or that two rows differing only in an irrelevant column get the same
prediction (an invariance test). Fixtures from conftest.py: `params`, `raw` (the data as
ingested), `suite_schema`, `trained` (.model, .schema, .train, .test).

An example, for a dataset with a numeric feature "amount" and a class "fraud":

    def test_larger_amounts_look_more_like_fraud(trained):
        features = trained.schema.features_frame(trained.test)
        low, high = features.copy(), features.copy()
        low["amount"], high["amount"] = features["amount"].quantile([0.1, 0.9])
        fraud = trained.schema.classes.index("fraud")
        proba = trained.model.predict_proba
        assert proba(high)[:, fraud].mean() > proba(low)[:, fraud].mean()

Rules about the data itself (ranges, allowed values, row counts) belong in the expectation
suite, gx/expectations/raw_dataset.json (docs/validation.md), where both `make run` and
the prediction service enforce them.
"""
