"""Input no resolver should ever see, refused before execution with BAD_USER_INPUT and the path at fault.

Every subgraph's schema runs `InputGuard` (`DemimasSchema.get_extensions`), so a new field or a new subgraph is
covered without a line of its own:

- **Text** (`unstorable_text`): no string anywhere in the operation (a variable's value at any depth, an object
  key, an argument's literal, a variable's default) may hold a NUL character or a lone surrogate.
- **`_entities` representations** (`representations`): each must match one of its type's `@key`s exactly.

The checks run in `on_execute`, after parsing and validation (so the document is known good). Setting the result
there makes strawberry skip execution, so nothing is half-done; `DemimasSchema` shapes the error like any other.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import DocumentNode, GraphQLError, GraphQLSchema
from graphql.execution import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import SchemaExtension

from demimas_common.errors import BadUserInput
from demimas_common.graphql.representations import representations_problem
from demimas_common.graphql.unstorable_text import document_problem, value_problem

__all__ = ["InputGuard", "check_operation"]


class InputGuard(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.result is None:
            problem = check_operation(context.schema._schema, document, context.variables, context.operation_name)
            if problem is not None:
                error = GraphQLError(problem.message, extensions=problem.extensions)
                context.result = GraphQLExecutionResult(data=None, errors=[error])
        yield


def check_operation(
    schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, Any] | None, operation_name: str | None
) -> BadUserInput | None:
    """The first thing wrong with the operation's input, or None."""
    problem = document_problem(document)
    if problem is None and variables:
        problem = value_problem(variables)
    if problem is None:
        problem = representations_problem(schema, document, variables or {}, operation_name)
    return problem
