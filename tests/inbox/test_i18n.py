"""The browser interface in English, Korean and Japanese (issue 14): the language comes from
the ``lang`` cookie set by the page's switcher, else from ``Accept-Language``, else English;
the three catalogues hold the same keys, and every label the templates and the browser code
ask for is in them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import bridgekit
from bridgekit.inbox.sessions import create_password_link
from bridgekit.web.i18n import CATALOGUES, LANGS, accepted
from tests.inbox.sign_in_support import Browser, person

WEB = Path(bridgekit.__file__).parent / "web"
# t("key") / t('key', ...) in templates and ES modules; text(request, "key") in the Python.
CALL = re.compile(r"""\bt\(\s*["']([a-z_.]+)["']""")
TEXT = re.compile(r"""\btext\(\s*request,\s*["']([a-z_.]+)["']""")
PYTHON_T = re.compile(r"""\bt\(\s*"([a-z_.]+)"\s*[,)]""")


def _used() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    files = [
        *(WEB / "ui" / "templates").rglob("*.html"),
        *(WEB / "ui" / "static").glob("*.js"),
        *WEB.glob("*.py"),
    ]
    for path in files:
        if path.stem == "i18n":  # the machinery itself: its docs name t("key")
            continue
        source = path.read_text(encoding="utf-8")
        keys = set(CALL.findall(source)) | set(TEXT.findall(source))
        if path.suffix == ".py":
            keys |= set(PYTHON_T.findall(source))
        if keys:
            found[path.name] = keys
    return found


def test_the_three_catalogues_have_the_same_keys_and_every_label_used() -> None:
    english = set(CATALOGUES["en"])
    for lang in LANGS:
        raw = json.loads((WEB / "ui" / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))
        assert set(raw) == english, lang
        assert all(text.strip() for text in raw.values()), lang
        # the same {placeholders} in every language
        for key, text in raw.items():
            assert set(re.findall(r"\{\w+\}", text)) == set(re.findall(r"\{\w+\}", CATALOGUES["en"][key])), (
                key
            )
    used = _used()
    assert {"shell.html", "sign_in.html", "shell.js", "conversation.js", "signin.py"} <= set(used)
    for name, keys in used.items():
        assert keys <= english, (name, keys - english)
    # Korean and Japanese are written out, not copies of the English
    assert CATALOGUES["ko"]["sign_in.button"] == "로그인"
    assert CATALOGUES["ja"]["inbox.title"] == "受信トレイ"


def test_accept_language_picks_the_best_supported_language() -> None:
    assert accepted("ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7") == "ko"
    assert accepted("fr-FR,fr;q=0.9,ja;q=0.5,en;q=0.4") == "ja"
    assert accepted("en;q=0.2, ja-JP;q=0.8") == "ja"
    assert accepted("de, ko;q=0") is None
    assert accepted("") is None
    assert accepted("ko;q=abc,en") == "en"


async def test_sign_in_follows_accept_language_and_the_lang_cookie_overrides_it(make_bridge) -> None:
    running = await make_bridge(plugins={})
    async with Browser(running) as browser:
        session, url = browser.session, browser.url
        async with session.get(f"{url}/sign-in") as resp:
            html = await resp.text()
        assert '<html lang="en"' in html
        assert ">Sign in<" in html
        async with session.get(
            f"{url}/sign-in", headers={"Accept-Language": "ko-KR,ko;q=0.9,en;q=0.5"}
        ) as resp:
            html = await resp.text()
        assert '<html lang="ko"' in html
        assert "bridgekit에 로그인" in html
        assert ">로그인<" in html
        assert "비밀번호" in html
        assert 'href="/lang/ja?next=/sign-in"' in html  # the switcher

        async with session.get(f"{url}/lang/ja?next=/sign-in", allow_redirects=False) as resp:
            assert (resp.status, resp.headers["Location"]) == (303, "/sign-in")
            assert resp.cookies["lang"].value == "ja"
        async with session.get(f"{url}/sign-in", headers={"Accept-Language": "ko"}) as resp:
            html = await resp.text()
        assert '<html lang="ja"' in html  # the cookie wins over the header
        assert "bridgekitにログイン" in html
        assert ">ログイン<" in html

        # a wrong password is answered in the chosen language too, and a refused new one
        minji = await person(running)
        link = await create_password_link(running.bridge.db, minji.manager_id)
        short = await browser.post_form(f"/set-password/{link}", {"password": "short", "confirm": "short"})
        assert short.status == 400
        assert short.alert.startswith("パスワードは")
        assert short.alert.endswith("文字以上にしてください。")
        wrong = await browser.sign_in("minji@example.com", "not the password")
        assert (
            wrong.alert
            == "メールアドレスまたはパスワードが正しくありません。確認してもう一度お試しください。"
        )

        async with session.get(f"{url}/lang/xx", allow_redirects=False) as resp:
            assert resp.status == 404
        async with session.get(f"{url}/lang/ko?next=https://evil.example/", allow_redirects=False) as resp:
            assert resp.headers["Location"] == "/"  # never to another site
        signed = await browser.sign_in("minji@example.com")
        assert signed.status == 303
        async with session.get(f"{url}/") as resp:
            html = await resp.text()
        assert '<html lang="ko"' in html
        for label in (
            "받은 편지함",
            "진행 중인 전체",
            "읽지 않음",
            "최근 메시지순",
            "답장",
            "메모",
            "닫기",
            "로그아웃",
        ):
            assert label in html, label
