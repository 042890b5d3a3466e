"""The API access page: its examples, run as a customer would paste them, send.

Each example is taken from the page as served, with `<md5>` replaced by the
account's pwd: curl, the Python SDK and PHP (with its curl extension:
.ci/run installs it) run; Java when a JDK is here, else checked for what a
working program needs.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Customer, RunningServer, service_missing
from tests.integration.console_client import ConsoleClient

SUCCESS = "sms&stat=100&message=发送成功"


def examples(live: RunningServer, customer: Customer) -> dict[str, str]:
    console = ConsoleClient(live, customer)
    page = console.get("/console/api").text
    console.close()
    assert customer.password not in page and customer.pwd not in page
    found = {
        name: html.unescape(code)
        for name, code in re.findall(r'data-testid="example-(\w+)">(.*?)</code>', page, re.S)
    }
    assert set(found) == {"curl", "python", "php", "java"}
    for code in found.values():
        assert customer.uid in code and "<md5>" in code and live.url in code
    return {name: code.replace("<md5>", customer.pwd) for name, code in found.items()}


def balance(live: RunningServer, customer: Customer) -> int:
    answer = live.get("/mm/", customer.auth()).content.decode("gbk")
    return int(answer.rsplit("=", 1)[1])


def run(args: list[str], cwd: Path | None = None, stdin: str | None = None) -> str:
    done = subprocess.run(
        args, input=stdin, capture_output=True, text=True, timeout=120, cwd=cwd, check=False
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def test_the_page_shows_the_uid_and_the_base_url_never_the_password(live: RunningServer) -> None:
    customer = live.customer()
    console = ConsoleClient(live, customer)
    page = console.get("/console/api").text
    console.close()
    assert f'data-testid="api-uid">{customer.uid}<' in page
    assert f'data-testid="base-url">{live.url}<' in page
    assert "md5(登录密码 + uid)" in page


@pytest.mark.skipif(shutil.which("curl") is None, reason="no curl on this machine")
def test_the_curl_example_sends(live: RunningServer) -> None:
    customer = live.customer(balance=10)
    code = examples(live, customer)["curl"]
    assert run(["sh", "-e"], stdin=code).strip() == SUCCESS
    assert balance(live, customer) == 9


def test_the_python_example_sends(live: RunningServer, tmp_path: Path) -> None:
    customer = live.customer(balance=10)
    code = examples(live, customer)["python"]
    (tmp_path / "example.py").write_text(code, encoding="utf-8")
    output = run([sys.executable, "example.py"], cwd=tmp_path)
    assert "balance 9" in output


def test_the_java_example_sends(live: RunningServer, tmp_path: Path) -> None:
    customer = live.customer(balance=10)
    code = examples(live, customer)["java"]
    assert "public class SendSms" in code and "static String enc" in code
    if shutil.which("javac") is None or shutil.which("java") is None:
        pytest.skip("no JDK here: the Java example was only checked for its parts")
    (tmp_path / "SendSms.java").write_text(code, encoding="utf-8")
    # Java 11+ runs a single source file without a separate javac step.
    output = run(["java", "-Dfile.encoding=UTF-8", "SendSms.java"], cwd=tmp_path)
    assert output.strip() == SUCCESS
    assert balance(live, customer) == 9


def test_the_php_example_sends(live: RunningServer, tmp_path: Path) -> None:
    customer = live.customer(balance=10)
    code = examples(live, customer)["php"]
    assert code.startswith("<?php\n") and "curl_init(" in code and "http_build_query(" in code
    assert code.count("(") == code.count(")") and code.count("[") == code.count("]")
    modules = ""
    if shutil.which("php"):
        modules = subprocess.run(["php", "-m"], capture_output=True, text=True, check=False).stdout
    if "curl" not in modules.split():
        # .ci/run installs php-cli and php-curl, so in CI the example always runs.
        service_missing("no php with its curl extension (apt-get install php-cli php-curl)")
    (tmp_path / "send.php").write_text(code, encoding="utf-8")
    assert run(["php", "send.php"], cwd=tmp_path).strip() == SUCCESS
    assert balance(live, customer) == 9
