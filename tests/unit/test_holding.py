"""Holding trackers in the markup (scanner.holding): the banner's change, made before a browser sees the page."""
import pytest

from scanner.holding import held_purpose, hold_markup

HOSTS = {"analytics": ["googletagmanager.com", "mc.yandex.ru"], "advertising": ["doubleclick.net", "ads.example.com"],
         "recognition": ["x.ads.example.com"]}


@pytest.mark.parametrize("before, after", [
    ('<script src="https://www.googletagmanager.com/gtag/js?id=G-1&amp;l=dl" async></script>',
     '<script src="https://www.googletagmanager.com/gtag/js?id=G-1&amp;l=dl" async type="text/plain" '
     'data-cmp-purpose="analytics"></script>'),
    ('<script type="text/javascript" src="//googletagmanager.com/x.js"></script>',
     '<script src="//googletagmanager.com/x.js" type="text/plain" data-cmp-purpose="analytics"></script>'),
    ('<IFRAME SRC="https://securepubads.g.doubleclick.net/ad.html" title="Ad"></IFRAME>',
     '<iframe data-src="https://securepubads.g.doubleclick.net/ad.html" title="Ad" data-cmp-purpose="advertising">'
     '</IFRAME>'),
    ('<img src=http://mc.yandex.ru:8080/watch/1 alt="" width=1 />',
     '<img data-src="http://mc.yandex.ru:8080/watch/1" alt="" width="1" data-cmp-purpose="analytics"/>'),
    # The most specific listing wins: a subdomain the owner put under another purpose.
    ('<img src="https://x.ads.example.com/p">', '<img data-src="https://x.ads.example.com/p" data-cmp-purpose="recognition">'),
    ('<img src="https://mc.yandex.ru./w">', '<img data-src="https://mc.yandex.ru./w" data-cmp-purpose="analytics">'),
    ('<img src="https://y.x.ads.example.com/p">',
     '<img data-src="https://y.x.ads.example.com/p" data-cmp-purpose="recognition">'),
    # What would request the host though the element is held: an image's srcset, a link that fetches ahead.
    ('<img src="https://mc.yandex.ru/w" srcset="https://mc.yandex.ru/w2 2x, /local.png 3x" alt="">',
     '<img data-src="https://mc.yandex.ru/w" data-srcset="https://mc.yandex.ru/w2 2x, /local.png 3x" alt="" '
     'data-cmp-purpose="analytics">'),
    # An image known by its srcset alone, and a picture's source: the first candidate's host decides.
    ('<img srcset="https://mc.yandex.ru/w 1x, https://mc.yandex.ru/w2 2x">',
     '<img data-srcset="https://mc.yandex.ru/w 1x, https://mc.yandex.ru/w2 2x" data-cmp-purpose="analytics">'),
    ('<picture><source srcset="\n  https://ads.example.com/a.webp" type="image/webp"><img src="/a.png"></picture>',
     '<picture><source data-srcset="\n  https://ads.example.com/a.webp" type="image/webp" data-cmp-purpose="advertising">'
     '<img src="/a.png"></picture>'),
    ('<link rel="preload" as="script" href="https://www.googletagmanager.com/gtag/js">',
     '<link data-cmp-rel="preload" as="script" href="https://www.googletagmanager.com/gtag/js" '
     'data-cmp-purpose="analytics">'),
    ('<LINK REL="Prefetch modulepreload" HREF="//ads.example.com/a.js"/>',
     '<link data-cmp-rel="Prefetch modulepreload" href="//ads.example.com/a.js" data-cmp-purpose="advertising"/>'),
])
def test_a_tag_of_a_listed_host_is_held_for_its_purpose(before, after):
    page = f"<!doctype html>\n<p>before</p>\n  {before}\n<p>after</p>"
    assert hold_markup(page, HOSTS) == f"<!doctype html>\n<p>before</p>\n  {after}\n<p>after</p>"


@pytest.mark.parametrize("markup", [
    '<script src="/static/app.js"></script>',                          # the site's own
    '<script src="https://notgoogletagmanager.com/x.js"></script>',     # a host that only ends alike
    '<script src="https://googletagmanager.com.evil.test/x.js"></script>',
    '<script>new Image().src = "https://mc.yandex.ru/watch/1"; var s = "<img src=https://mc.yandex.ru/w>";</script>',
    '<!-- <script src="https://www.googletagmanager.com/gtag/js"></script> -->',
    '<textarea><img src="https://mc.yandex.ru/watch/1"></textarea>',    # text, not an element
    '<title><img src="https://mc.yandex.ru/watch/1"></title>',
    '<a href="https://www.googletagmanager.com/">a link</a><link rel="stylesheet" href="https://doubleclick.net/a.css">',
    '<link rel="preload" as="script" href="/static/app.js"><link rel="preconnect" href="https://doubleclick.net">',
    '<link rel="preload" href="">', '<link href="https://doubleclick.net/a.js">',
    '<img data-src="https://mc.yandex.ru/watch/1" data-cmp-purpose="analytics">',  # tagged by hand already
    '<script type="text/plain" data-cmp-purpose="advertising" src="https://www.googletagmanager.com/g.js"></script>',
    '<img src="">', '<img src="http://[::1">', '<img>', '<img srcset="  ">',
    # A video's or an audio's source: released, it would not be chosen again. Nor one after the picture.
    '<video><source src="https://mc.yandex.ru/v.mp4" type="video/mp4"></video>',
    '<picture></picture><source srcset="https://mc.yandex.ru/w">',
])
def test_anything_else_is_left_byte_for_byte(markup):
    page = f"<html><body>\r\n {markup}\n<p>&eacute;t&#233;</p></body></html>"
    assert hold_markup(page, HOSTS) == page


def test_holding_twice_is_holding_once_and_every_tag_is_found_in_a_long_page():
    row = ('<li><img src="https://mc.yandex.ru/watch/{i}" alt="{i} &lt;3"></li>\n'
           '<li><script src="https://www.googletagmanager.com/{i}.js"></script></li>\n')
    page = "<ul>\n" + "".join(row.format(i=i) for i in range(300)) + "</ul>"
    once = hold_markup(page, HOSTS)
    assert hold_markup(once, HOSTS) == once
    assert once.count('data-cmp-purpose="analytics"') == 600 and " src=\"https://mc.yandex.ru" not in once
    assert '<img data-src="https://mc.yandex.ru/watch/299" alt="299 &lt;3" data-cmp-purpose="analytics">' in once


def test_an_attribute_value_keeps_its_meaning_quoted_anew():
    held = hold_markup("""<img src='https://mc.yandex.ru/w?a="1"&amp;b=<2>' alt='it&#39;s'>""", HOSTS)
    assert held == ('<img data-src="https://mc.yandex.ru/w?a=&quot;1&quot;&amp;b=&lt;2&gt;" alt="it&#x27;s" '
                    'data-cmp-purpose="analytics">')


def test_an_essential_host_is_never_held_though_a_listed_parent_covers_it():
    page = '<script src="https://cdn.ads.example.com/app.js"></script><img src="https://x.cdn.ads.example.com/a.png">'
    assert hold_markup(page, HOSTS, ["cdn.ads.example.com"]) == page
    assert hold_markup('<img src="https://other.ads.example.com/p">', HOSTS, ["cdn.ads.example.com"]) == (
        '<img data-src="https://other.ads.example.com/p" data-cmp-purpose="advertising">')


def test_no_hosts_no_change():
    page = '<script src="https://www.googletagmanager.com/gtag/js"></script>'
    assert hold_markup(page, {}) == page and hold_markup(page, {"analytics": []}) == page
    assert hold_markup(page, {}, ["googletagmanager.com"]) == page


@pytest.mark.parametrize("url, purpose", [
    ("https://WWW.GoogleTagManager.com/x", "analytics"), (" https://mc.yandex.ru/", "analytics"),
    ("https://ads.example.com/", "advertising"), ("https://z.x.ads.example.com/", "recognition"),
    ("https://example.com/", ""), ("data:text/html,hi", ""), ("javascript:alert(1)", ""), ("https://[bad", ""),
])
def test_the_purpose_of_a_url(url, purpose):
    purpose_of = {host: p for p, hosts in HOSTS.items() for host in hosts}
    assert held_purpose(url, purpose_of) == purpose
