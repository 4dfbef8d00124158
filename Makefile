# The two commands of the README: `make run` and `make test`. Everything else is a convenience.
.PHONY: run test lint bench bench-webhooks

run:
	scripts/run.sh

test:
	scripts/test.sh

lint:
	scripts/bootstrap.sh requirements-dev.txt
	.venv/bin/ruff check .
	.venv/bin/python -m devtools.layers

bench:
	scripts/bootstrap.sh requirements-dev.txt
	.venv/bin/python -m bench.run

bench-webhooks:
	scripts/bootstrap.sh requirements-dev.txt
	.venv/bin/python -m bench.webhooks
