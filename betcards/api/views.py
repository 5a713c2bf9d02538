"""The Bet Card API's endpoints (contract.md § Bet Card API): interfaces only. Each parses
its query (422 naming every bad parameter), calls one service and answers; errors are
rendered by `jackpot.api.exceptions` (119 is a 404 here)."""

from __future__ import annotations

import orjson
from django.http import HttpResponse, HttpResponseNotModified
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request

from betcards.api import openapi
from betcards.models import BetcardStatus
from betcards.offers import Offer, list_etag, offer_get, offers_list
from betcards.picks import Strategy, card_pick, finance_details, offered_card
from jackpot.api.query import QueryParams
from jackpot.core import clock
from jackpot.core.errors import BetcardNotFound, ContractError
from operators.api import OperatorApi

LISTED_STATUSES = (BetcardStatus.OPEN, BetcardStatus.CLOSED, BetcardStatus.SETTLED)
MAX_SEED = 2**63 - 1
MAX_PRICE = 10**15


class BetCardApi(OperatorApi):
    """Unknown and not-offered cards are 404 (code 119) on every /bc endpoint."""

    error_statuses: dict[type[ContractError], int] = {BetcardNotFound: 404}


def _json(body: bytes, *, etag: str | None = None) -> HttpResponse:
    response = HttpResponse(body, content_type="application/json")
    if etag is not None:
        response["ETag"] = etag
    return response


def _unchanged(request: Request, etag: str) -> bool:
    """The client already holds this answer (`If-None-Match` lists its ETag, or `*`)."""
    wanted = request._request.META.get("HTTP_IF_NONE_MATCH", "")
    tags = {tag.strip().removeprefix("W/") for tag in wanted.split(",")}
    return etag in tags or "*" in tags


def _answer(request: Request, body: bytes, etag: str) -> HttpResponse:
    if _unchanged(request, etag):
        response = HttpResponseNotModified()
        response["ETag"] = etag
        return response
    return _json(body, etag=etag)


class CardListApi(BetCardApi):
    @extend_schema(**openapi.CARD_LIST)
    def get(self, request: Request) -> HttpResponse:
        params = QueryParams(request.query_params)
        statuses = params.choices("status", LISTED_STATUSES)
        params.raise_if_invalid()
        operator = self.operator(request)
        offers = offers_list(
            operator_id=operator.pk, zone=operator.timezone, statuses=statuses, now=clock.now()
        )
        return _answer(request, _list_body(offers), list_etag(offers))


def _list_body(offers: list[Offer]) -> bytes:
    return b"[" + b",".join(offer.body for offer in offers) + b"]"


class CardDetailApi(BetCardApi):
    @extend_schema(**openapi.CARD_DETAIL)
    def get(self, request: Request, code: str) -> HttpResponse:
        operator = self.operator(request)
        offer = offer_get(code=code, operator_id=operator.pk, zone=operator.timezone)
        if offer is None:
            raise BetcardNotFound(betcard_code=code)
        return _answer(request, offer.body, offer.etag)


class CardPickApi(BetCardApi):
    @extend_schema(**openapi.CARD_PICK)
    def get(self, request: Request, code: str) -> HttpResponse:
        params = QueryParams(request.query_params)
        strategy = params.choice("strategy", [s.value for s in Strategy])
        seed = params.integer("seed", minimum=0, maximum=MAX_SEED)
        params.raise_if_invalid()
        assert strategy is not None  # required
        pick = card_pick(
            code=code,
            operator=self.operator(request),
            strategy=Strategy(strategy),
            seed=seed,
            now=clock.now(),
        )
        return _json(orjson.dumps(pick))


class FinanceDetailsApi(BetCardApi):
    @extend_schema(**openapi.FINANCE_DETAILS)
    def get(self, request: Request) -> HttpResponse:
        params = QueryParams(request.query_params)
        price = params.integer("price", minimum=1, maximum=MAX_PRICE, required=True)
        code = params.text("betcard_code", max_length=32)
        params.raise_if_invalid()
        assert price is not None  # required
        operator = self.operator(request)
        card = None if code is None else offered_card(code=code, operator=operator)
        return _json(orjson.dumps(finance_details(operator=operator, price=price, card=card)))
