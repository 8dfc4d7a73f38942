"""Receiving: stock arriving against purchase orders, scanned or typed in the browser, one
order at a time or "whatever arrives" at a location."""

from flask import Blueprint

bp = Blueprint("receiving", __name__)

from app.receiving import arrival_routes, order_routes, routes  # noqa: E402,F401
