"""The baseline of the service benchmark: a trivial Flask app that echoes the JSON body."""

from flask import Flask, request

app = Flask(__name__)


@app.post("/v1/score")
def echo():
    return request.get_json()
