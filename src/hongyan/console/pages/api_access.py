"""API access: the uid, how `pwd` is made, the base URL, the endpoints, and
examples ready to paste (curl, the Python SDK, PHP, Java), filled in with
the account's uid and a `<md5>` placeholder: the console never knows the
login password, and `pwd` is never shown (a test runs the examples).
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from hongyan.console.web import PREFIX, Console, Page, _, signed_in

PWD_PLACEHOLDER = "<md5>"  # noqa: S105 (a placeholder the customer replaces, not a password)
EXAMPLE_MOBILE = "13800138000"
EXAMPLE_TEXT = "【鸿雁】您的验证码是 1234"

# Each endpoint and what it is for (PROTOCOL.md).
ENDPOINTS = (
    ("/mt/", _("Send: numbers, text, optional schedule time; charged at acceptance.")),
    ("/mtutf8/", _("Send, with UTF-8 input and answer.")),
    ("/st/", _("Status reports not fetched yet, up to 500 a call.")),
    ("/rx/", _("Replies not fetched yet, up to 500 a call.")),
    ("/mm/", _("Balance in parts; with cmd=send, parts sent in total.")),
    ("/rd/", _("Send records, 50 a page, newest first.")),
)


def routes(console: Console) -> list[BaseRoute]:
    return [Route(f"{PREFIX}/api", signed_in(console, api_page), methods=["GET"])]


def base_url(page: Page) -> str:
    """The address the API is reached at, as this browser reached the console
    (behind a trusted proxy, the scheme it says the browser used)."""
    request = page.request
    scheme = "https" if page.console.is_https(request) else request.url.scheme
    host = request.headers.get("host") or request.url.netloc
    return f"{scheme}://{host}"


def examples(base: str, uid: str) -> dict[str, str]:
    """The examples, each a complete program that sends one message."""
    curl = (
        f'curl -sS "{base}/mt/" \\\n'
        f'  --data-urlencode "uid={uid}" \\\n'
        f'  --data-urlencode "pwd={PWD_PLACEHOLDER}" \\\n'
        f'  --data-urlencode "mobile={EXAMPLE_MOBILE}" \\\n'
        f'  --data-urlencode "content={EXAMPLE_TEXT}" \\\n'
        '  --data-urlencode "encode=utf8" | iconv -f GBK -t UTF-8\n'
    )
    python = (
        "# hongyan.client: the Python SDK shipped in the hongyan package\n"
        "from hongyan.client import SmsClient\n"
        "\n"
        f'with SmsClient("{base}", "{uid}", pwd="{PWD_PLACEHOLDER}") as sms:\n'
        f'    result = sms.send(["{EXAMPLE_MOBILE}"], "{EXAMPLE_TEXT}")\n'
        '    print("sent", result.mobileids)\n'
        '    print("balance", sms.balance())\n'
    )
    php = (
        "<?php\n"
        "$params = [\n"
        f"    'uid' => '{uid}',\n"
        f"    'pwd' => '{PWD_PLACEHOLDER}',  // md5(login password . uid)\n"
        f"    'mobile' => '{EXAMPLE_MOBILE}',\n"
        f"    'content' => '{EXAMPLE_TEXT}',\n"
        "    'encode' => 'utf8',\n"
        "];\n"
        f"$ch = curl_init('{base}/mt/');\n"
        "curl_setopt($ch, CURLOPT_POST, true);\n"
        "curl_setopt($ch, CURLOPT_POSTFIELDS, http_build_query($params));\n"
        "curl_setopt($ch, CURLOPT_RETURNTRANSFER, true);\n"
        "$answer = curl_exec($ch);\n"
        "curl_close($ch);\n"
        "// The answer is GBK: sms&stat=100&message=...\n"
        "echo iconv('GBK', 'UTF-8', $answer), \"\\n\";\n"
    )
    java = (
        "import java.net.URI;\n"
        "import java.net.URLEncoder;\n"
        "import java.net.http.HttpClient;\n"
        "import java.net.http.HttpRequest;\n"
        "import java.net.http.HttpResponse;\n"
        "import java.nio.charset.Charset;\n"
        "import java.nio.charset.StandardCharsets;\n"
        "\n"
        "public class SendSms {\n"
        "    public static void main(String[] args) throws Exception {\n"
        f'        String form = "uid=" + enc("{uid}")\n'
        f'            + "&pwd=" + enc("{PWD_PLACEHOLDER}")  // md5(login password + uid)\n'
        f'            + "&mobile=" + enc("{EXAMPLE_MOBILE}")\n'
        f'            + "&content=" + enc("{EXAMPLE_TEXT}")\n'
        '            + "&encode=utf8";\n'
        f'        HttpRequest request = HttpRequest.newBuilder(URI.create("{base}/mt/"))\n'
        '            .header("Content-Type", "application/x-www-form-urlencoded")\n'
        "            .POST(HttpRequest.BodyPublishers.ofString(form))\n"
        "            .build();\n"
        "        // HTTP/1.1: the API does not take an HTTP/2 upgrade (h2c).\n"
        "        HttpClient client = HttpClient.newBuilder()\n"
        "            .version(HttpClient.Version.HTTP_1_1).build();\n"
        "        HttpResponse<byte[]> response = client\n"
        "            .send(request, HttpResponse.BodyHandlers.ofByteArray());\n"
        "        // The answer is GBK: sms&stat=100&message=...\n"
        '        System.out.println(new String(response.body(), Charset.forName("GBK")));\n'
        "    }\n"
        "\n"
        "    static String enc(String value) {\n"
        "        return URLEncoder.encode(value, StandardCharsets.UTF_8);\n"
        "    }\n"
        "}\n"
    )
    return {"curl": curl, "python": python, "php": php, "java": java}


async def api_page(page: Page) -> Response:
    base = base_url(page)
    return page.render(
        "api.html",
        base=base,
        endpoints=[(path, page.gettext(text)) for path, text in ENDPOINTS],
        examples=examples(base, page.uid),
    )
