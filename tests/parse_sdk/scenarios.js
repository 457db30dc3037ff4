// Scenarios the Parse JavaScript SDK plays against a real warehouse-gql server.
//   node scenarios.js <name>   with SERVER_URL and SCENARIO (JSON parameters) in the environment.
// Each prints one JSON line with what it saw; `listen` prints one line per LiveQuery message
// and runs until its stdin closes.
'use strict';

const Parse = require('parse/node');

const params = JSON.parse(process.env.SCENARIO || '{}');
Parse.initialize(process.env.PARSE_APP_ID || 'warehouse');
Parse.serverURL = process.env.SERVER_URL;
Parse.CoreManager.set('IDEMPOTENCY', true);
Parse.CoreManager.set('REQUEST_ATTEMPT_LIMIT', 1);
// One scenario per process: the current user may live in memory (become, logOut).
Parse.User.enableUnsafeCurrentUser();

const out = (value) => process.stdout.write(JSON.stringify(value) + '\n');

async function failure(promise) {
  try {
    await promise;
    return { code: null };
  } catch (error) {
    return { code: error.code, message: error.message };
  }
}

const pointer = (className, objectId) => {
  const object = new Parse.Object(className);
  object.id = objectId;
  return object;
};

const scenarios = {
  async accounts() {
    const user = new Parse.User();
    user.set('username', params.username);
    user.set('password', params.password);
    user.set('email', `${params.username}@example.com`);
    await user.signUp();
    const token = user.getSessionToken();
    await user.fetch();
    const signedUp = { id: user.id, token, role: user.get('role') };
    await Parse.User.logOut();
    const afterLogout = Parse.User.current() === null;
    const badPassword = await failure(Parse.User.logIn(params.username, 'wrong password'));
    const again = await Parse.User.logIn(params.username, params.password);
    const become = await Parse.User.become(again.getSessionToken());
    await again.fetch();
    const setRole = await failure(again.save({ role: 'Manager' }));
    return {
      signedUp,
      afterLogout,
      badPassword,
      loggedIn: { id: again.id, token: again.getSessionToken(), email: again.get('email') },
      become: become.id,
      setRole,
    };
  },

  async objects() {
    const sessionToken = params.managerToken;
    const bin = new Parse.Object('Bin');
    await bin.save({ location: params.location, capacity: 20 }, { sessionToken });
    const item = new Parse.Object('Item');
    await item.save(
      { name: 'Hex bolt', sku: params.sku, bin, quantity: 4 },
      { sessionToken },
    );
    const query = new Parse.Query('Item');
    query.equalTo('sku', params.sku);
    query.include('bin');
    const found = await query.find({ sessionToken });
    const got = await new Parse.Query('Item').get(item.id, { sessionToken });
    const prefixed = await new Parse.Query('Item')
      .startsWith('sku', params.sku.slice(0, -2))
      .find({ sessionToken });
    item.increment('quantity', 5);
    await item.save(null, { sessionToken });
    const afterIncrement = item.get('quantity');
    const overTake = new Parse.Object('Item');
    overTake.id = item.id;
    overTake.increment('quantity', -100);
    const refused = await failure(overTake.save(null, { sessionToken }));
    await item.fetch({ sessionToken });
    const unsupported = await failure(
      new Parse.Query('Item').matches('sku', 'B.*L').find({ sessionToken }),
    );
    const customerRead = await failure(
      new Parse.Query('Item').find({ sessionToken: params.customerToken }),
    );
    return {
      binId: bin.id,
      itemId: item.id,
      found: found.map((i) => ({
        id: i.id,
        sku: i.get('sku'),
        binLocation: i.get('bin').get('location'),
        binLoad: i.get('bin').get('currentLoad'),
      })),
      got: { id: got.id, quantity: got.get('quantity'), binId: got.get('bin').id },
      prefixed: prefixed.map((i) => i.id),
      afterIncrement,
      refused,
      afterRefusal: item.get('quantity'),
      unsupported,
      customerRead,
      createdAt: item.createdAt instanceof Date,
    };
  },

  async orders() {
    const customer = { sessionToken: params.customerToken };
    const order = new Parse.Object('Order');
    await order.save(
      { customerName: 'Ada Lovelace', items: [{ sku: params.sku, quantity: 2 }] },
      customer,
    );
    const pending = order.get('status');
    const mine = await new Parse.Query('Order').equalTo('objectId', order.id).first(customer);
    const toFulfill = pointer('Order', order.id);
    toFulfill.set('status', 'fulfilled');
    await toFulfill.save(null, { sessionToken: params.pickerToken });
    const fetched = await new Parse.Query('Order').get(order.id, customer);
    const shipment = new Parse.Object('Shipment');
    await shipment.save(
      { order: pointer('Order', order.id), carrier: 'DHL', trackingNumber: params.tracking },
      { sessionToken: params.pickerToken },
    );
    shipment.set('status', 'delivered');
    await shipment.save(null, { sessionToken: params.pickerToken });
    const visible = await new Parse.Query('Shipment')
      .equalTo('order', pointer('Order', order.id))
      .include('order')
      .find(customer);
    const othersSee = await new Parse.Query('Order')
      .equalTo('objectId', order.id)
      .find({ sessionToken: params.otherToken });
    const reopen = pointer('Order', order.id);
    reopen.set('status', 'pending');
    const backwards = await failure(reopen.save(null, { sessionToken: params.pickerToken }));
    return {
      orderId: order.id,
      pending,
      mine: mine && mine.id,
      fulfilled: { status: fetched.get('status'), picks: fetched.get('picks') },
      shipmentId: shipment.id,
      shipments: visible.map((s) => ({
        status: s.get('status'),
        orderStatus: s.get('order').get('status'),
      })),
      othersSee: othersSee.length,
      backwards,
    };
  },

  async functions() {
    const sessionToken = params.pickerToken;
    const level = await Parse.Cloud.run('stockLevel', { sku: params.sku }, { sessionToken });
    const adjusted = await Parse.Cloud.run(
      'adjustItemQuantity',
      { itemId: params.itemId, delta: 3, reason: 'found in aisle' },
      { sessionToken },
    );
    const moved = await Parse.Cloud.run(
      'moveItem',
      { itemId: params.itemId, toBinId: params.otherBinId, quantity: 2 },
      { sessionToken },
    );
    const putaway = await Parse.Cloud.run(
      'suggestPutaway',
      { sku: params.sku, quantity: 1 },
      { sessionToken },
    );
    const unknown = await failure(Parse.Cloud.run('launchRocket', {}, { sessionToken }));
    const customer = await failure(
      Parse.Cloud.run('moveItem', { itemId: params.itemId, toBinId: params.otherBinId, quantity: 1 }, {
        sessionToken: params.customerToken,
      }),
    );
    return {
      level,
      adjusted: { className: adjusted.className, quantity: adjusted.get('quantity') },
      moved: { id: moved.id, quantity: moved.get('quantity'), binId: moved.get('bin').id },
      putaway: putaway.suggestions.length + putaway.unplaced > 0,
      unknown,
      customer,
    };
  },

  async batch() {
    const sessionToken = params.managerToken;
    const items = params.skus.map((sku) => {
      const item = new Parse.Object('Item');
      item.set({ name: 'Batch', sku, bin: pointer('Bin', params.binId), quantity: 1 });
      return item;
    });
    const saved = await Parse.Object.saveAll(items, { sessionToken, batchSize: 20 });
    return { ids: saved.map((i) => i.id) };
  },

  async listen() {
    const client = new Parse.LiveQueryClient({
      applicationId: process.env.PARSE_APP_ID || 'warehouse',
      serverURL: process.env.SERVER_URL.replace(/^http/, 'ws'),
      sessionToken: params.token,
    });
    client.on('error', (error) => out({ op: 'client-error', error: String(error) }));
    client.on('close', () => out({ op: 'close' }));
    client.open();
    for (const [index, spec] of params.subscriptions.entries()) {
      const query = new Parse.Query(spec.className);
      for (const [field, value] of Object.entries(spec.equalTo || {})) {
        query.equalTo(field, value);
      }
      if (spec.greaterThan) {
        query.greaterThan(spec.greaterThan[0], spec.greaterThan[1]);
      }
      const subscription = client.subscribe(query, params.token);
      // A refused subscription rejects this promise; the 'error' event below reports it.
      subscription.subscribePromise.catch(() => {});
      for (const op of ['create', 'enter', 'update', 'leave', 'delete']) {
        subscription.on(op, (object, original) =>
          out({
            op,
            subscription: index,
            id: object.id,
            className: object.className,
            quantity: object.get('quantity'),
            status: object.get('status'),
            location: object.get('location'),
            capacity: object.get('capacity'),
            original: original && original.get ? original.get('quantity') : undefined,
          }),
        );
      }
      subscription.on('open', () => out({ op: 'open', subscription: index }));
      subscription.on('error', (error) => out({ op: 'error', subscription: index, error }));
    }
    process.stdin.resume();
    await new Promise((resolve) => process.stdin.on('end', resolve));
    client.close();
    return { op: 'done' };
  },
};

scenarios[process.argv[2]]()
  .then((result) => {
    out(result);
    process.exit(0);
  })
  .catch((error) => {
    out({ failed: String(error), code: error && error.code, stack: error && error.stack });
    process.exit(1);
  });
