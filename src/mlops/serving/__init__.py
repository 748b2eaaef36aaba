"""The prediction service: a Flask app (app.py) run by gunicorn (gunicorn_conf.py).

It reads only the model directory written by the `export` stage (model.onnx and
metadata.json) and imports only what requirements-serve.in installs: no pandas, no
scikit-learn, no pydantic, nothing unpickled.
"""
