import Foundation
import Messaging
import Testing
import VeemTestSupport

/// The AMQP layer on a real RabbitMQ, a fresh vhost per test.
@Suite struct AMQPConnectionTests {
    func withBroker(_ body: (TestBroker) async throws -> Void) async throws {
        let broker = try await TestBroker.fresh(label: "amqp")
        do {
            try await body(broker)
            await broker.delete()
        } catch {
            await broker.delete()
            throw error
        }
    }

    static let queue = Declaration.queue(name: "work", durable: true, exclusive: false, autoDelete: false)

    @Test func confirmedMessagesArriveInOrderAndAckedOnesDoNotComeBack() async throws {
        try await withBroker { broker in
            let connection = AMQPConnection(configuration: broker.configuration(name: "t"))
            defer { connection.close() }
            try await connection.declare([Self.queue])
            for index in 0..<50 {
                try await connection.publish(exchange: "", routingKey: "work", body: Array("m\(index)".utf8))
            }
            var received: [String] = []
            for await delivery in connection.consume(queue: "work", prefetch: 10) {
                received.append(String(decoding: delivery.body, as: UTF8.self))
                connection.ack(delivery)
                if received.count == 50 { break }
            }
            #expect(received == (0..<50).map { "m\($0)" })
            #expect(try await eventually { try await broker.depth(of: "work") == 0 })
        }
    }

    @Test func aMandatoryMessageNoQueueTakesFailsAsUnroutable() async throws {
        try await withBroker { broker in
            let connection = AMQPConnection(configuration: broker.configuration(name: "t"))
            defer { connection.close() }
            await #expect(throws: MessagingError.self) {
                try await connection.publish(exchange: "", routingKey: "nobody-listens", body: [1], mandatory: true)
            }
            // Without mandatory the broker drops it and confirms.
            try await connection.publish(exchange: "", routingKey: "nobody-listens", body: [1])
        }
    }

    @Test func unackedDeliveriesComeBackToTheNextConsumer() async throws {
        try await withBroker { broker in
            let first = AMQPConnection(configuration: broker.configuration(name: "first"))
            try await first.declare([Self.queue])
            try await first.publish(exchange: "", routingKey: "work", body: Array("job".utf8),
                                    properties: MessageProperties(messageId: "job-1"))
            for await delivery in first.consume(queue: "work") {
                #expect(!delivery.redelivered)
                break  // taken, never acked
            }
            first.close()  // a consumer's death
            let second = AMQPConnection(configuration: broker.configuration(name: "second"))
            defer { second.close() }
            for await delivery in second.consume(queue: "work") {
                #expect(delivery.redelivered)
                #expect(delivery.properties.messageId == "job-1")
                second.ack(delivery)
                break
            }
        }
    }

    @Test func rejectedWithRequeueComesBackAndWithoutIsDropped() async throws {
        try await withBroker { broker in
            let connection = AMQPConnection(configuration: broker.configuration(name: "t"))
            defer { connection.close() }
            try await connection.declare([Self.queue])
            try await connection.publish(exchange: "", routingKey: "work", body: [7])
            var seen = 0
            for await delivery in connection.consume(queue: "work") {
                seen += 1
                if seen == 1 {
                    connection.reject(delivery, requeue: true)
                } else {
                    #expect(delivery.redelivered)
                    connection.reject(delivery, requeue: false)
                    break
                }
            }
            #expect(try await eventually { try await broker.depth(of: "work") == 0 })
        }
    }

    @Test func aDroppedConnectionReconnectsAndKeepsPublishingAndConsuming() async throws {
        try await withBroker { broker in
            let connection = AMQPConnection(configuration: broker.configuration(name: "t"))
            defer { connection.close() }
            try await connection.declare([Self.queue])
            let stream = connection.consume(queue: "work")
            try await connection.publish(exchange: "", routingKey: "work", body: Array("before".utf8))
            try await broker.closeAllConnections()
            // Publishing while it reconnects: the message waits, then goes out and is confirmed.
            try await connection.publish(exchange: "", routingKey: "work", body: Array("after".utf8))
            #expect(connection.connectionCount >= 2)
            var received = Set<String>()
            for await delivery in stream {
                received.insert(String(decoding: delivery.body, as: UTF8.self))
                connection.ack(delivery)
                if received == ["before", "after"] { break }
            }
            #expect(received == ["before", "after"])
        }
    }

    @Test func batchesHandOutEverythingWaiting() async throws {
        try await withBroker { broker in
            let connection = AMQPConnection(configuration: broker.configuration(name: "t"))
            defer { connection.close() }
            try await connection.declare([Self.queue])
            for index in 0..<20 { try await connection.publish(exchange: "", routingKey: "work", body: [UInt8(index)]) }
            let batches = connection.consumeBatches(queue: "work", prefetch: 100)
            var bodies: [UInt8] = []
            while bodies.count < 20, let batch = await batches.next(limit: 8) {
                #expect(batch.count <= 8)
                bodies += batch.flatMap(\.body)
                batch.forEach(connection.ack)
            }
            #expect(bodies == Array(0..<20))
        }
    }

    @Test func aBadURLIsRefusedByName() {
        #expect(throws: MessagingError.self) { try AMQPConfiguration(url: "http://example") }
        let parsed = try? AMQPConfiguration(url: "amqp://u:p@127.0.0.1:5673/my%2Fvhost")
        #expect(parsed?.vhost == "my/vhost" && parsed?.port == 5673 && parsed?.user == "u")
        #expect(parsed?.tls == nil)
    }

    @Test func anAMQPSURLNamesItsTLSFilesAndAnythingElseIsRefusedByName() throws {
        let tls = try AMQPConfiguration(url: "amqps://u:p@broker/veem?cacertfile=/etc/hostname&verify=verify_peer")
        #expect(tls.port == 5671 && tls.tls == AMQPTLS(caFile: "/etc/hostname"))
        let cases = [
            ("amqp://u:p@broker/veem?cacertfile=/etc/hostname", "'cacertfile' in the broker URL needs amqps://"),
            ("amqps://u:p@broker/veem?cacertfile=/nonexistent", "cacertfile in the broker URL: cannot read '/nonexistent'"),
            ("amqps://u:p@broker/veem?certfile=/etc/hostname", "certfile and keyfile in the broker URL go together"),
            ("amqps://u:p@broker/veem?verify=maybe", "verify in the broker URL must be verify_peer or verify_none"),
            ("amqps://u:p@broker/veem?sni=x", "unknown broker URL parameter 'sni'"),
            ("ftp://u:secret@broker/veem", "not an amqp:// or amqps:// URL: ftp://u:REDACTED@broker/veem"),
        ]
        for (url, message) in cases {
            #expect(throws: MessagingError.self) { try AMQPConfiguration(url: url) }
            do {
                _ = try AMQPConfiguration(url: url)
            } catch {
                #expect("\(error)".contains(message), "\(url): \(error)")
            }
        }
    }
}
