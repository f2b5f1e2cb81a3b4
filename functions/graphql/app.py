"""POST /v3/graphql: ODP's GraphQL API for customer audience membership."""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths

from audiences import auth
from audiences.domain import Scope
from audiences.odp import graphql, http

logger = Logger()
tracer = Tracer()
app = APIGatewayRestResolver()
http.install_error_handlers(app, {"/": http.graphql_error})


@app.post("/v3/graphql")
@tracer.capture_method
def query():
    principal = http.authenticate(app, Scope.PUBLIC)
    return graphql.execute(app.current_event.body, auth.tenant_of(principal))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event, context):
    return app.resolve(event, context)
