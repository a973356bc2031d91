.PHONY: serve test check install bench
serve:
	scripts/serve
test:
	scripts/test
check:
	scripts/check
install:
	scripts/install
bench:
	scripts/bench
