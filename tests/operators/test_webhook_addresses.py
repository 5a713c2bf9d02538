"""Webhook URLs may not point into the engine's own network in production
(operators/addresses.py): refused when set, and again before each call."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from jackpot.core.errors import OperatorInvalid
from operators.addresses import internal_address
from operators.models import Operator
from operators.pam import pam_post
from operators.services import webhook_url_valid
from tests.factories import OperatorFactory

pytestmark = pytest.mark.django_db

INTERNAL = [
    "http://127.0.0.1:8765/pam",
    "http://localhost/pam",
    "http://10.1.2.3/pam",
    "http://192.168.0.10/pam",
    "http://172.16.5.4/pam",
    "http://169.254.169.254/latest/meta-data",
    "http://[::1]/pam",
    "http://[fd00::1]/pam",
    "http://[::ffff:127.0.0.1]/pam",
    "http://0.0.0.0/pam",
    "http://100.64.0.1/pam",  # shared address space (carrier-grade NAT)
    "http://100.100.100.200/latest/meta-data",  # a cloud's metadata service
    "http://198.18.0.1/pam",  # benchmarking
    "http://192.0.2.10/pam",  # documentation
    "http://[2001:db8::1]/pam",  # documentation
    "http://224.0.0.1/pam",  # multicast
    "http://[ff0e::1]/pam",  # global-scope multicast
    "http://[::ffff:100.64.0.1]/pam",
]


@pytest.fixture
def production(settings):
    settings.PAM_ALLOW_PRIVATE_URLS = False


@pytest.mark.parametrize("url", INTERNAL)
def test_internal_addresses_are_found(url):
    assert internal_address(url) is not None


def test_a_public_address_is_not_internal():
    assert internal_address("https://93.184.215.14/pam") is None


@pytest.mark.usefixtures("production")
@pytest.mark.parametrize("url", INTERNAL)
def test_the_service_refuses_an_internal_webhook_url(url):
    with pytest.raises(OperatorInvalid, match="internal address"):
        webhook_url_valid(url)


@pytest.mark.usefixtures("production")
def test_create_operator_refuses_it_and_creates_nothing():
    with pytest.raises(CommandError, match=r"internal address 127\.0\.0\.1"):
        call_command("create_operator", "acme", "--webhook-url", "http://127.0.0.1:9/hook")

    assert not Operator.objects.exists()


@pytest.mark.usefixtures("production")
def test_the_admin_form_refuses_it(admin_client):
    operator = OperatorFactory(webhook_url="https://pam.example.com/hook")
    url = reverse("admin:operators_operator_change", args=[operator.pk])
    page = admin_client.get(url).context["adminform"].form
    data = {name: page.initial.get(name) for name in page.fields}
    data |= {"webhook_url": "http://10.0.0.5/hook", "currencies": "", "is_active": "on"}

    response = admin_client.post(url, {k: v for k, v in data.items() if v is not None})

    assert response.status_code == 200
    assert "internal address 10.0.0.5" in str(response.context["adminform"].form.errors)
    operator.refresh_from_db()
    assert operator.webhook_url == "https://pam.example.com/hook"


def test_internal_urls_are_allowed_when_the_setting_says_so(settings):
    settings.PAM_ALLOW_PRIVATE_URLS = True

    assert webhook_url_valid("http://127.0.0.1:8765/pam") == "http://127.0.0.1:8765/pam"


@pytest.mark.usefixtures("production")
@pytest.mark.parametrize("host", ["127.0.0.1", "100.64.0.1", "100.100.100.200"])
def test_a_call_to_an_internal_address_is_not_made(host):
    # a URL stored before the rule (or a name that resolves inside later) is refused per call
    operator = OperatorFactory(webhook_url=f"http://{host}:9/pam")

    answer = pam_post(operator=operator, body=b"{}")

    assert answer.outcome == "retryable"
    assert answer.http_status is None
    assert answer.error == f"webhook URL points at the internal address {host}"
