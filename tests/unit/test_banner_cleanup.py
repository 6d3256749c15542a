"""The banner's clean-up (banner_static/src/cleanup.js) under ``node --test``
(banner_static/test/cleanup.test.js): a declined purpose's cookies are deleted on the page's
host and on each parent domain it may write, against a jar that keeps a browser's rules."""
from tests.support import banner_node_test


def test_the_clean_up_reaches_the_parent_domains_and_never_the_public_suffix():
    output = banner_node_test("cleanup.test.js", "a browser's cookie rules (banner_static/test/cleanup.test.js)")
    assert "# fail 0" in output and "# pass 4" in output
