// A JVM service registering itself with Apache Curator's ServiceDiscovery, as
// a Java shop's servers do: the registrar of framework:foreign_channel_test,
// compiled at test time against Debian's Curator jars
// (libcurator-discovery-java).
//
//   java CuratorRegister <connect string> <base path> <service name>
//       <address> <port> <session timeout ms>
//
// Registers one ServiceInstance<Map> (a random UUID id, payload
// {"zone": "jvm"}), prints "registered <id>" (flushed), and keeps it until
// killed: a kill -9 leaves the instance until its session expires.

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.x.discovery.ServiceDiscovery;
import org.apache.curator.x.discovery.ServiceDiscoveryBuilder;
import org.apache.curator.x.discovery.ServiceInstance;

public final class CuratorRegister {
  public static void main(String[] args) throws Exception {
    if (args.length != 6) {
      System.err.println("usage: CuratorRegister <connect string> <base path> <service>"
          + " <address> <port> <session timeout ms>");
      System.exit(2);
    }
    CuratorFramework client = CuratorFrameworkFactory.builder()
        .connectString(args[0])
        .sessionTimeoutMs(Integer.parseInt(args[5]))
        .retryPolicy(new ExponentialBackoffRetry(100, 3))
        .build();
    client.start();
    if (!client.blockUntilConnected(30, TimeUnit.SECONDS)) {
      System.out.println("ERROR cannot connect to " + args[0]);
      System.exit(1);
    }
    ServiceDiscovery<Map> discovery = ServiceDiscoveryBuilder.builder(Map.class)
        .client(client)
        .basePath(args[1])
        .build();
    discovery.start();
    Map<String, Object> payload = new HashMap<>();
    payload.put("zone", "jvm");
    ServiceInstance<Map> instance = ServiceInstance.<Map>builder()
        .name(args[2])
        .address(args[3])
        .port(Integer.parseInt(args[4]))
        .payload(payload)
        .build();
    discovery.registerService(instance);
    System.out.println("registered " + instance.getId());
    System.out.flush();
    Thread.sleep(Long.MAX_VALUE);
  }
}
