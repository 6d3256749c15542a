"""What made a request, from the DevTools protocol's initiator: the banner's own frames are passed over."""
import pytest

from scanner.chromium import initiator

PAGE = "https://shop.example/"
PIXEL_SCRIPT = "https://sc-static.net/scevent.min.js"


def stack(*urls, parent=None):
    return {"callFrames": [{"url": url, "functionName": ""} for url in urls], **({"parent": parent} if parent else {})}


@pytest.mark.parametrize("banner", ["https://cmp.example.com/c/demo.js", "https://cmp.example.com/c/v/1.6.3/cmp.min.js"])
def test_the_script_under_the_banners_setter_made_the_request(banner):
    # new Image().src = … in the pixel's script: the banner's src setter is on top, the pixel's script below it.
    assert initiator({"initiator": {"type": "script", "stack": stack(banner, PIXEL_SCRIPT)},
                      "documentURL": PAGE}) == PIXEL_SCRIPT
    assert initiator({"initiator": {"type": "script", "stack": stack(banner, parent=stack("", PIXEL_SCRIPT))},
                      "documentURL": PAGE}) == PIXEL_SCRIPT


def test_a_request_the_banner_alone_made_is_the_pages():
    # A gated tag the banner released: nothing of the page's on the stack but the banner.
    assert initiator({"initiator": {"type": "script", "stack": stack("https://cmp.example.com/c/demo.js")},
                      "documentURL": PAGE}) == PAGE


@pytest.mark.parametrize("url", ["https://shop.example/c/app.min.js", "https://shop.example/cdn/c/demo.js.map",
                                 "https://other.example/c/v/1/app.js"])
def test_any_other_script_is_what_made_it(url):
    assert initiator({"initiator": {"type": "script", "stack": stack(url)}, "documentURL": PAGE}) == url


def test_a_parsed_element_is_the_documents():
    assert initiator({"initiator": {"type": "parser", "url": PAGE}, "documentURL": PAGE}) == PAGE
