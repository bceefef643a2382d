"""The ceiling: a bare Starlette endpoint that reads the body and answers a small JSON,
under the same uvicorn (uvloop, httptools) as the collector."""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


async def batch(request: Request) -> Response:
    await request.body()
    return Response(b'{"accepted":1,"rejected":[]}', media_type="application/json")


app = Starlette(routes=[Route("/v1/batch", batch, methods=["POST"])])
