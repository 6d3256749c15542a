# The banner's build (included by the Makefile). dist/ is committed, so
# `make run` needs no Node; these targets are for changing the banner and CI.
BANNER := banner_static

.PHONY: banner banner-deps banner-check

banner-deps:
	cd $(BANNER) && npm ci --no-audit --no-fund --loglevel=error

banner: banner-deps
	cd $(BANNER) && npm run --silent build

# CI: the committed dist/ must be exactly what the source builds to.
banner-check: banner
	git diff --exit-code -- $(BANNER)/dist || (echo "banner_static/dist is stale: run 'make banner' and commit it" && exit 1)
