"""The published schema: `schema.graphql` is what the code exports, and it keeps the contract.

The contract is the SDL block of the product specification, copied here verbatim (the
repository must not depend on files outside itself); its connection types are written out
from the "the same shape" comment. Additions to the schema are welcome, renames are not, and
an addition must not break a client of the contract (no new required argument or input field).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    Undefined,
    build_schema,
)

from warehouse_gql.api.graphql.schema import export_sdl

ROOT = Path(__file__).resolve().parent.parent

CONTRACT_SDL = """
scalar DateTime

enum Role { MANAGER PICKER CUSTOMER }
enum OrderStatus { PENDING FULFILLED SHIPPED CANCELLED }
enum ShipmentStatus { IN_TRANSIT DELIVERED }
enum ChangeKind { CREATED UPDATED DELETED }
enum LiveKind { ENTER UPDATE LEAVE }

type User { id: ID! username: String! email: String role: Role! createdAt: DateTime! updatedAt: DateTime! }
type Bin { id: ID! location: String! capacity: Int! currentLoad: Int! freeCapacity: Int! items: [Item!]! createdAt: DateTime! updatedAt: DateTime! }
type Item { id: ID! name: String! sku: String! bin: Bin! quantity: Int! createdAt: DateTime! updatedAt: DateTime! }
type OrderLine { sku: String! quantity: Int! }
type Pick { sku: String! quantity: Int! bin: Bin }
type Order { id: ID! customerName: String! items: [OrderLine!]! status: OrderStatus! createdBy: User picks: [Pick!]! shipments: [Shipment!]! createdAt: DateTime! updatedAt: DateTime! }
type Shipment { id: ID! order: Order! carrier: String! trackingNumber: String! status: ShipmentStatus! createdAt: DateTime! updatedAt: DateTime! }
type Movement { id: ID! sku: String! bin: Bin! delta: Int! quantityAfter: Int! reason: String! orderId: ID createdAt: DateTime! }

type PageInfo { hasNextPage: Boolean! endCursor: String }
type BinEdge { cursor: String! node: Bin! }
type BinConnection { edges: [BinEdge!]! pageInfo: PageInfo! totalCount: Int! }
# ItemConnection/ItemEdge, OrderConnection/OrderEdge, ShipmentConnection/ShipmentEdge,
# MovementConnection/MovementEdge, UserConnection/UserEdge: the same shape.

type AuthPayload { token: String! user: User! }
type ItemEvent { kind: ChangeKind! item: Item! }
type ShipmentEvent { kind: ChangeKind! shipment: Shipment! }
type LowStockEvent { kind: LiveKind! item: Item! }

input SignUpInput { username: String! email: String! password: String! }
input CreateBinInput { location: String! capacity: Int! }
input UpdateBinInput { location: String capacity: Int }
input CreateItemInput { name: String! sku: String! binId: ID! quantity: Int! }
input UpdateItemInput { name: String }
input OrderLineInput { sku: String! quantity: Int! }
input CreateOrderInput { customerName: String! items: [OrderLineInput!]! idempotencyKey: String }
input CreateShipmentInput { orderId: ID! carrier: String! trackingNumber: String! }

type Query {
  me: User
  users(first: Int = 50, after: String): UserConnection!
  bin(id: ID!): Bin
  bins(first: Int = 50, after: String, locationPrefix: String): BinConnection!
  item(id: ID!): Item
  items(first: Int = 50, after: String, sku: String, binId: ID, maxQuantity: Int): ItemConnection!
  stockLevel(sku: String!): Int!
  movements(first: Int = 50, after: String, sku: String): MovementConnection!
  order(id: ID!): Order
  orders(first: Int = 50, after: String, status: OrderStatus): OrderConnection!
  shipment(id: ID!): Shipment
  shipments(first: Int = 50, after: String, orderId: ID, status: ShipmentStatus): ShipmentConnection!
}

type Mutation {
  signUp(input: SignUpInput!): AuthPayload!
  logIn(username: String!, password: String!): AuthPayload!
  logOut: Boolean!
  setUserRole(userId: ID!, role: Role!): User!
  createBin(input: CreateBinInput!): Bin!
  updateBin(id: ID!, input: UpdateBinInput!): Bin!
  deleteBin(id: ID!): ID!
  createItem(input: CreateItemInput!): Item!
  updateItem(id: ID!, input: UpdateItemInput!): Item!
  adjustItemQuantity(id: ID!, delta: Int!, reason: String!): Item!
  moveItem(id: ID!, toBinId: ID!, quantity: Int!): Item!
  deleteItem(id: ID!): ID!
  createOrder(input: CreateOrderInput!): Order!
  fulfillOrder(id: ID!): Order!
  cancelOrder(id: ID!): Order!
  deleteOrder(id: ID!): ID!
  createShipment(input: CreateShipmentInput!): Shipment!
  updateShipmentStatus(id: ID!, status: ShipmentStatus!): Shipment!
  deleteShipment(id: ID!): ID!
}

type Subscription {
  itemChanged(sku: String, binId: ID): ItemEvent!
  shipmentChanged(orderId: ID, trackingNumber: String): ShipmentEvent!
  lowStock(threshold: Int!, sku: String): LowStockEvent!
}
"""

# "The same shape" as BinConnection/BinEdge, for each of the other listed nodes.
SAME_SHAPE_CONNECTIONS = "\n".join(
    f"type {node}Edge {{ cursor: String! node: {node}! }}\n"
    f"type {node}Connection {{ edges: [{node}Edge!]! pageInfo: PageInfo! totalCount: Int! }}"
    for node in ("Item", "Order", "Shipment", "Movement", "User")
)


@pytest.fixture(scope="module")
def contract() -> GraphQLSchema:
    return build_schema(CONTRACT_SDL + "\n" + SAME_SHAPE_CONNECTIONS)


@pytest.fixture(scope="module")
def published() -> GraphQLSchema:
    return build_schema(export_sdl())


def contract_types(contract: GraphQLSchema) -> list[GraphQLNamedType]:
    return [
        t
        for name, t in sorted(contract.type_map.items())
        if not name.startswith("__") and name not in {"String", "Int", "Float", "Boolean", "ID"}
    ]


def test_the_committed_schema_file_is_what_the_code_exports() -> None:
    committed = (ROOT / "schema.graphql").read_text(encoding="utf-8")
    assert export_sdl() == committed, (
        "schema.graphql is stale: run `warehouse-gql export-schema > schema.graphql`"
    )


def test_the_export_schema_command_prints_the_committed_schema() -> None:
    script = shutil.which("warehouse-gql", path=str(Path(sys.executable).parent)) or shutil.which(
        "warehouse-gql"
    )
    assert script is not None, "the warehouse-gql console script is not installed"
    env = {k: v for k, v in os.environ.items() if k not in {"MONGODB_URL", "REDIS_URL"}}
    result = subprocess.run(
        [script, "export-schema"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == (ROOT / "schema.graphql").read_text(encoding="utf-8")


def test_the_contract_as_embedded_here_is_complete(contract: GraphQLSchema) -> None:
    names = {t.name for t in contract_types(contract)}
    # The types listed in the SPEC block, including the "same shape" connections.
    assert len(names) == 42
    assert contract.query_type is not None
    assert contract.mutation_type is not None
    assert contract.subscription_type is not None


def test_every_contract_type_exists_with_the_same_kind(
    contract: GraphQLSchema, published: GraphQLSchema
) -> None:
    missing = []
    for expected in contract_types(contract):
        actual = published.get_type(expected.name)
        if actual is None:
            missing.append(expected.name)
            continue
        assert type(actual) is type(expected), (expected.name, type(actual), type(expected))
    assert not missing, f"types missing from the schema: {missing}"


@pytest.mark.parametrize(
    "root", ["query_type", "mutation_type", "subscription_type"], ids=lambda r: r.split("_")[0]
)
def test_the_root_types_have_the_contract_names(
    contract: GraphQLSchema, published: GraphQLSchema, root: str
) -> None:
    expected = getattr(contract, root)
    actual = getattr(published, root)
    assert actual is not None
    assert actual.name == expected.name


def test_every_enum_has_the_contract_values(
    contract: GraphQLSchema, published: GraphQLSchema
) -> None:
    for expected in contract_types(contract):
        if isinstance(expected, GraphQLEnumType):
            actual = published.get_type(expected.name)
            assert isinstance(actual, GraphQLEnumType)
            missing = set(expected.values) - set(actual.values)
            assert not missing, f"{expected.name} lacks values {missing}"


def test_every_scalar_of_the_contract_exists(
    contract: GraphQLSchema, published: GraphQLSchema
) -> None:
    for expected in contract_types(contract):
        if isinstance(expected, GraphQLScalarType):
            assert isinstance(published.get_type(expected.name), GraphQLScalarType)


def _argument_problems(
    where: str, expected: dict[str, GraphQLArgument], actual: dict[str, GraphQLArgument]
) -> list[str]:
    problems = []
    for name, arg in expected.items():
        if name not in actual:
            problems.append(f"{where}({name}:) is missing")
            continue
        if str(actual[name].type) != str(arg.type):
            problems.append(f"{where}({name}:) is {actual[name].type}, not {arg.type}")
        if actual[name].default_value != arg.default_value:
            problems.append(
                f"{where}({name}:) defaults to {actual[name].default_value!r}, not {arg.default_value!r}"
            )
    for name, arg in actual.items():
        # An addition a contract client does not send must not be required.
        if (
            name not in expected
            and isinstance(arg.type, GraphQLNonNull)
            and (arg.default_value is Undefined)
        ):
            problems.append(f"{where}({name}:) is a new required argument")
    return problems


def test_every_contract_field_and_argument_exists_with_the_same_type(
    contract: GraphQLSchema, published: GraphQLSchema
) -> None:
    problems: list[str] = []
    for expected in contract_types(contract):
        if not isinstance(expected, (GraphQLObjectType, GraphQLInterfaceType)):
            continue
        actual = published.get_type(expected.name)
        assert isinstance(actual, (GraphQLObjectType, GraphQLInterfaceType)), expected.name
        for field_name, field in expected.fields.items():
            where = f"{expected.name}.{field_name}"
            if field_name not in actual.fields:
                problems.append(f"{where} is missing")
                continue
            ours = actual.fields[field_name]
            if str(ours.type) != str(field.type):
                problems.append(f"{where} is {ours.type}, not {field.type}")
            problems += _argument_problems(where, field.args, ours.args)
    assert not problems, "\n".join(problems)


def _input_field_problems(
    where: str, expected: dict[str, GraphQLInputField], actual: dict[str, GraphQLInputField]
) -> list[str]:
    problems = []
    for name, field in expected.items():
        if name not in actual:
            problems.append(f"{where}.{name} is missing")
        elif str(actual[name].type) != str(field.type):
            problems.append(f"{where}.{name} is {actual[name].type}, not {field.type}")
    for name, field in actual.items():
        if (
            name not in expected
            and isinstance(field.type, GraphQLNonNull)
            and (field.default_value is Undefined)
        ):
            problems.append(f"{where}.{name} is a new required input field")
    return problems


def test_every_contract_input_field_exists_with_the_same_type(
    contract: GraphQLSchema, published: GraphQLSchema
) -> None:
    problems: list[str] = []
    for expected in contract_types(contract):
        if isinstance(expected, GraphQLInputObjectType):
            actual = published.get_type(expected.name)
            assert isinstance(actual, GraphQLInputObjectType), expected.name
            problems += _input_field_problems(expected.name, expected.fields, actual.fields)
    assert not problems, "\n".join(problems)


def test_the_published_schema_documents_its_types() -> None:
    # Descriptions land in schema.graphql (STYLE rule 8); the root fields all carry one.
    schema = build_schema(export_sdl())
    undocumented = [
        f"{root.name}.{name}"
        for root in (schema.query_type, schema.mutation_type, schema.subscription_type)
        if root is not None
        for name, field in root.fields.items()
        if not field.description
    ]
    assert not undocumented, undocumented
