import VMI

extension AMQPConnection {
    /// Publishes a VMI envelope with its id, correlation id and type as AMQP properties, and waits for the confirm.
    public func send<Body: VMIBody>(_ envelope: Envelope<Body>, exchange: String, routingKey: String,
                                    replyTo: String? = nil, mandatory: Bool = false,
                                    persistent: Bool = true, timeout: Duration = .seconds(30)) async throws {
        try await publish(exchange: exchange, routingKey: routingKey, body: VMI.encode(envelope),
                          properties: MessageProperties(messageId: envelope.id, correlationId: envelope.correlationId,
                                                        replyTo: replyTo, type: envelope.type.rawValue,
                                                        persistent: persistent),
                          mandatory: mandatory, timeout: timeout)
    }

    /// Queues a VMI envelope in call order without waiting for its confirm; failures go to `onFailure`.
    public func post<Body: VMIBody>(_ envelope: Envelope<Body>, exchange: String, routingKey: String,
                                    mandatory: Bool = false, persistent: Bool = true,
                                    onFailure: @escaping @Sendable (Error) -> Void = { _ in }) {
        post(exchange: exchange, routingKey: routingKey, body: VMI.encode(envelope),
             properties: MessageProperties(messageId: envelope.id, correlationId: envelope.correlationId,
                                           type: envelope.type.rawValue, persistent: persistent),
             mandatory: mandatory) { result in
            if case .failure(let error) = result { onFailure(error) }
        }
    }

    /// Sends `body` as the reply to `request` (to its reply-to queue, with its id as correlation id).
    public func reply<Body: VMIBody>(_ body: Body, to request: Delivery, requestId: String?, sender: String) async throws {
        guard let replyTo = request.properties.replyTo else { return }
        let envelope = Envelope(body: body, sender: sender, correlationId: requestId ?? request.properties.messageId)
        try await send(envelope, exchange: "", routingKey: replyTo, mandatory: true, persistent: false)
    }
}
