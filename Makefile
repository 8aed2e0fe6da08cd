# The two commands a newcomer needs (see README.md):
#   make lab    - build and run the whole deployment demo (the main job)
#   make test   - run the whole test suite and the quality gates
.PHONY: lab test bench bootstrap clean

bootstrap:
	@scripts/bootstrap

lab: bootstrap
	.venv/bin/lin6 lab

test: bootstrap
	.venv/bin/tox -e tests,lint,types

bench: bootstrap
	.venv/bin/tox -e bench

clean:
	rm -rf .tox _trial_temp* build dist *.egg-info
	-$(MAKE) -s -C dataplane_c clean
